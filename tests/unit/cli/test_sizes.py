"""`cloudai task --memory/--storage`: GiB numbers or docker-style sizes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudai import entry
from cloudai.cli import tasks
from cloudai.cli.sizes import parse_gib


@pytest.mark.parametrize(
    ("text", "gib"),
    [
        ("0.5", 0.5), ("2", 2.0), (".25", 0.25), ("512m", 0.5), ("2g", 2.0), ("1.5g", 1.5),
        ("1.5G", 1.5), ("512MB", 0.5), ("512mib", 0.5), ("2GiB", 2.0), ("1t", 1024.0),
        ("1048576k", 1.0), (str(1024**3) + "b", 1.0), (" 3g ", 3.0),
    ],
)  # fmt: skip
def test_sizes_parse_as_gib(text: str, gib: float) -> None:
    assert parse_gib(text) == pytest.approx(gib)


@pytest.mark.parametrize("text", ["", "g", "-1", "-1g", "5x", "1.2.3", "inf", "nan", "2 g b"])
def test_other_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_gib(text)


class _Recorder:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        return {"task_id": "task-1"}


def test_task_sends_docker_style_sizes_as_gib(monkeypatch: pytest.MonkeyPatch) -> None:
    client = _Recorder()

    @contextlib.contextmanager
    def session() -> Iterator[_Recorder]:
        yield client

    monkeypatch.setattr(tasks, "session", session)
    app = entry.build()
    result = CliRunner().invoke(app, ["task", "img", "--memory", "512m", "--storage", "2g"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "task-1\n"
    assert client.bodies == [
        {"docker_image": "img", "memory_required": 0.5, "storage_required": 2.0}
    ]
    result = CliRunner().invoke(app, ["task", "img", "--memory", "0.75"])
    assert client.bodies[-1]["memory_required"] == 0.75

    bad = CliRunner().invoke(app, ["task", "img", "--memory", "lots"])
    assert bad.exit_code == 2 and "not a size" in bad.output
    assert len(client.bodies) == 2
