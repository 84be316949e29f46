"""Task and worker ids by their beginning in the verbs that take them, and `files
[USER_ID]`, run in-process against a stand-in master."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cloudai import entry
from cloudai.cli import contexts
from tests.unit.cli.fake_master import FakeMaster, running

A, B = "task-0a1b2c3d4e5f6a7b", "task-0a9999999999999f"


def task(task_id: str, status: str = "running") -> dict[str, Any]:
    return {"task_id": task_id, "name": "n", "status": status, "worker_id": "w-1",
            "exit_code": None, "created_at": "2026-12-03T10:00:00Z"}  # fmt: skip


@pytest.fixture
def master(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeMaster]:
    with running() as fake:
        monkeypatch.setenv("CLOUDAI_URL", fake.url)
        monkeypatch.setenv("CLOUDAI_TOKEN", "t")
        monkeypatch.setenv("CLOUDAI_CONFIG_DIR", str(tmp_path / "cfg"))
        fake.answer("GET", "/api/tasks", {"tasks": [task(A), task(B)], "limit": 11, "offset": 0})
        yield fake


def cli(*args: str) -> Result:
    contexts.select(None)
    return CliRunner().invoke(entry.build(), list(args))


def test_a_unique_prefix_is_the_task(master: FakeMaster) -> None:
    master.answer("GET", f"/api/tasks/{A}", {**task(A), "events": [], "attempts": []})
    shown = cli("status", "task-0a1")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(A)
    assert master.asked("GET", "/api/tasks")[0].query == {"limit": "11", "id_prefix": "task-0a1"}
    master.answer("DELETE", f"/api/tasks/{B}", {"task_id": B, "status": "cancelled",
                                                "message": "cancelled"})  # fmt: skip
    cancelled = cli("cancel", "task-0a9")
    assert cancelled.exit_code == 0 and cancelled.stdout == f"{B} cancelled\n"


def test_an_ambiguous_prefix_lists_the_candidates_and_exits_2(master: FakeMaster) -> None:
    for verb in ("status", "cancel", "logs", "events", "task-files", "monitor"):
        result = cli(verb, "task-0a")
        assert result.exit_code == 2, (verb, result.output)
        assert "matches more than one task" in result.stderr
        assert f"  {A}" in result.stderr and f"  {B}" in result.stderr
    assert master.asked("DELETE", f"/api/tasks/{A}") == []  # nothing was cancelled


def test_no_match_is_not_found(master: FakeMaster) -> None:
    missing = cli("logs", "task-ff")
    assert missing.exit_code == 3
    assert missing.stderr.strip() == "error: task task-ff not found (no task id starts with it)"


def test_worker_prefixes(master: FakeMaster) -> None:
    master.answer("GET", "/api/workers", {"workers": [{"worker_id": "gpu-1"},
                                                      {"worker_id": "cpu-1"}]})  # fmt: skip
    master.answer("POST", "/api/admin/workers/gpu-1/drain",
                  {"worker_id": "gpu-1", "eligibility": "draining"})  # fmt: skip
    drained = cli("drain", "gpu")
    assert drained.exit_code == 0 and drained.stdout == "gpu-1: draining\n"
    assert cli("stats", "nope").exit_code == 3
    master.answer("POST", "/api/tasks", {"task_id": A, "status": "queued"}, status=201)
    sent = cli("dispatch", "cpu", "img", "true")
    assert sent.exit_code == 0 and sent.stdout == f"{A}\n"
    assert master.asked("POST", "/api/tasks")[0].body["target_worker_id"] == "cpu-1"
    later = cli("task", "img", "--worker", "not-yet-1", "--", "true")
    assert later.exit_code == 0  # a worker not registered yet: the master warns, it waits
    assert master.asked("POST", "/api/tasks")[1].body["target_worker_id"] == "not-yet-1"


def test_files_of_a_user(master: FakeMaster) -> None:
    page = {"tasks": [{"task_id": A, "name": "train", "status": "completed",
                       "finished_at": "2026-12-03T10:05:00Z", "files": 2, "total_size": 10}],
            "next_cursor": "c1"}  # fmt: skip
    master.answer("GET", "/api/files", page)
    listed = cli("files", "u-123")
    assert listed.exit_code == 0, listed.output
    assert master.asked("GET", "/api/files")[0].query == {"user_id": "u-123", "limit": "100"}
    assert listed.stdout.splitlines()[1].split() == [
        A, "train", "completed", "2026-12-03", "10:05:00", "2", "10",
    ]  # fmt: skip
    assert "more with --cursor c1" in listed.stderr
    assert cli("files").exit_code == 0
    assert master.asked("GET", "/api/files")[1].query == {"limit": "100"}
    master.answer("GET", "/api/files", {"error": "forbidden", "detail": "admins only"}, 403)
    assert cli("files", "u-other").exit_code == 4
    by_task = cli("files", A)  # a task id where a user id goes: pointed to task-files
    said = " ".join(by_task.output.replace("│", " ").split())  # the error's box unwrapped
    assert by_task.exit_code == 2 and f"is a task id; `cloudai task-files {A}`" in said
    assert len(master.asked("GET", "/api/files")) == 3  # nothing was asked


def test_download_by_prefix_and_no_progress_bar_into_a_pipe(
    master: FakeMaster, tmp_path: Path
) -> None:
    data = b"hello\n" * 1000
    listing = {
        "task_id": A,
        "total_size": len(data),
        "files": [
            {"path": "out/a.txt", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        ],
    }
    master.answer("GET", f"/api/files/{A}", listing)  # fmt: skip
    master.answer("GET", f"/api/files/{A}/download/out/a.txt", data)
    target = tmp_path / "a.txt"
    fetched = cli("download", "task-0a1", "out/a.txt", "-o", str(target))
    assert fetched.exit_code == 0, fetched.output
    assert target.read_bytes() == data
    assert fetched.stderr == ""  # not a terminal: no bar
