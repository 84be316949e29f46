"""Short ids: one match is the id, several are a usage error listing them, none is not
found; whole ids are themselves."""

from __future__ import annotations

from typing import Any

import pytest

from cloudai.cli import ids
from cloudai.cli.session import exit_status


def test_one_match_is_that_id() -> None:
    assert ids.pick("task-ab", ["task-abc", "task-bcd"], "task") == "task-abc"


def test_a_whole_id_is_itself_even_when_it_begins_another() -> None:
    assert ids.pick("w-1", ["w-1", "w-10", "w-11"], "worker") == "w-1"


def test_several_matches_are_a_usage_error_that_lists_them() -> None:
    with pytest.raises(ids.Ambiguous) as caught:
        ids.pick("w-1", ["w-10", "w-11", "w-2"], "worker")
    message = str(caught.value)
    assert message.splitlines() == [
        "'w-1' matches more than one worker; give more of the id:", "  w-10", "  w-11",
    ]  # fmt: skip
    assert exit_status(caught.value) == 2


def test_no_match_is_not_found() -> None:
    with pytest.raises(ids.NoMatch, match=r"task task-z not found \(no task id") as caught:
        ids.pick("task-z", ["task-a"], "task")
    assert exit_status(caught.value) == 3
    with pytest.raises(ids.NoMatch):
        ids.pick("", ["task-a"], "task")


def test_many_candidates_are_cut_short() -> None:
    many = [f"task-{i:02}" for i in range(30)]
    with pytest.raises(ids.Ambiguous) as caught:
        ids.pick("task-", many, "task")
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + ids.SHOWN + 1 and lines[-1] == "  …"


class FakeClient:
    def __init__(self, tasks: list[str], workers: list[str], honours_prefix: bool = True) -> None:
        self._tasks, self._workers, self.honours = tasks, workers, honours_prefix
        self.asked: list[dict[str, Any]] = []

    def list_tasks(self, limit: int = 100, id_prefix: str | None = None) -> dict[str, Any]:
        self.asked.append({"limit": limit, "id_prefix": id_prefix})
        found = [t for t in self._tasks if not self.honours or t.startswith(id_prefix or "")]
        return {"tasks": [{"task_id": t} for t in found[:limit]]}

    def workers(self) -> dict[str, Any]:
        return {"workers": [{"worker_id": w} for w in self._workers]}


def test_a_task_prefix_is_asked_of_the_master() -> None:
    client: Any = FakeClient(["task-0123456789abcdef", "task-0fffffffffffffff"], [])
    assert ids.task(client, "task-01") == "task-0123456789abcdef"
    assert client.asked == [{"limit": ids.SHOWN + 1, "id_prefix": "task-01"}]
    with pytest.raises(ids.Ambiguous):
        ids.task(client, "task-0")


def test_a_whole_task_id_is_not_looked_up() -> None:
    client: Any = FakeClient([], [])
    whole = "task-0123456789abcdef"
    assert ids.task(client, whole) == whole
    assert client.asked == []


def test_more_matches_than_shown_is_ambiguous_even_when_the_page_was_cut() -> None:
    client: Any = FakeClient([f"task-a{i:02}" for i in range(ids.SHOWN + 5)], [])
    with pytest.raises(ids.Ambiguous, match="…"):
        ids.task(client, "task-a")


def test_a_master_without_the_prefix_filter_still_resolves() -> None:
    client: Any = FakeClient(["task-x1", "task-y2"], [], honours_prefix=False)
    assert ids.task(client, "task-y") == "task-y2"


def test_worker_ids_are_matched_here() -> None:
    client: Any = FakeClient([], ["local-3f2c9a-1", "local-3f2c9a-2", "gpu-box"])
    assert ids.worker(client, "gpu") == "gpu-box"
    with pytest.raises(ids.Ambiguous):
        ids.worker(client, "local-")
    with pytest.raises(ids.NoMatch):
        ids.worker(client, "nope")
    # A task may name a worker that has not registered yet: taken as given.
    assert ids.worker(client, "later-1", missing_ok=True) == "later-1"
