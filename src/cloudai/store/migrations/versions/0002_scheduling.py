"""Scheduling: task priority, retries, timeout, env, target worker, type and SLA;
worker eligibility; indexes for the queue and for what one worker holds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _task_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_retries", sa.Integer(), server_default="3", nullable=False),
        sa.Column("retries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=True),
        sa.Column("env", sa.JSON(), server_default="{}", nullable=False),
        sa.Column("target_worker_id", sa.String(), nullable=True),
        sa.Column("task_type", sa.String(), server_default="mixed", nullable=False),
        sa.Column("tau_s", sa.Float(), server_default="0", nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_met", sa.Boolean(), nullable=True),
        sa.Column("scheduler", sa.String(), server_default="", nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for column in _task_columns():
            batch.add_column(column)
    op.create_index("ix_tasks_status_created", "tasks", ["status", "created_at", "task_id"])
    op.create_index("ix_tasks_worker_status", "tasks", ["worker_id", "status"])
    op.create_index("ix_tasks_finished_at", "tasks", ["finished_at"])
    with op.batch_alter_table("workers") as batch:
        batch.add_column(
            sa.Column("eligibility", sa.String(), server_default="open", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("eligibility")
    op.drop_index("ix_tasks_finished_at", table_name="tasks")
    op.drop_index("ix_tasks_worker_status", table_name="tasks")
    op.drop_index("ix_tasks_status_created", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        for column in reversed(_task_columns()):
            batch.drop_column(column.name)
