"""An index for one user's task list, newest first (paged by created_at, task_id).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tasks_user_created", "tasks", ["user_id", "created_at", "task_id"])


def downgrade() -> None:
    op.drop_index("ix_tasks_user_created", table_name="tasks")
