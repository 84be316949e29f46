"""Opaque page cursors: the (created_at, task_id) key of the last task of a page."""

from __future__ import annotations

import base64
from datetime import datetime

from cloudai.domain.errors import InvalidRequest
from cloudai.domain.task import Task


def encode_cursor(task: Task) -> str:
    key = f"{task.created_at.isoformat()}|{task.task_id}"
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, task_id = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        return datetime.fromisoformat(at), task_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest(f"cursor {cursor!r} is not one this server gave") from None
