from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cloudai.worker.executors import ExecutionSpec, FakeExecutor, FakeRun


def _spec(tmp_path: Path, task_id: str = "t1", epoch: int = 1) -> ExecutionSpec:
    return ExecutionSpec(
        task_id=task_id,
        epoch=epoch,
        image="img:1",
        command="echo hi",
        cpu=1.0,
        memory_gb=1.0,
        gpu=0,
        output_dir=tmp_path / "out",
        log_path=tmp_path / "task.log",
    )


async def test_default_script_succeeds_and_records_the_spec(tmp_path: Path) -> None:
    ex = FakeExecutor()
    spec = _spec(tmp_path)
    status = await ex.run(spec)
    assert status.succeeded
    assert ex.specs == [spec]


async def test_scripted_lines_files_and_exit_code(tmp_path: Path) -> None:
    ex = FakeExecutor(
        lambda spec: FakeRun(
            lines=["a", "12345678901"],
            files={"x.txt": b"x", "sub/y.bin": b"\x00\x01"},
            exit_code=3,
            oom_killed=True,
        )
    )
    spec = _spec(tmp_path)
    status = await ex.run(spec)

    assert (status.exit_code, status.oom_killed, status.cancelled) == (3, True, False)
    assert spec.log_path.read_bytes() == b"a\n12345678901\n"
    assert (spec.output_dir / "x.txt").read_bytes() == b"x"
    assert (spec.output_dir / "sub" / "y.bin").read_bytes() == b"\x00\x01"


async def test_scripted_start_failure(tmp_path: Path) -> None:
    ex = FakeExecutor(lambda spec: FakeRun(exit_code=None, error="image missing"))
    status = await ex.run(_spec(tmp_path))
    assert (status.exit_code, status.error) == (None, "image missing")


async def test_script_sees_the_spec(tmp_path: Path) -> None:
    ex = FakeExecutor(lambda spec: FakeRun(exit_code=0 if spec.task_id == "good" else 1))
    assert (await ex.run(_spec(tmp_path, "good"))).exit_code == 0
    assert (await ex.run(_spec(tmp_path, "bad"))).exit_code == 1


async def test_file_paths_must_stay_inside_the_output_dir(tmp_path: Path) -> None:
    ex = FakeExecutor(lambda spec: FakeRun(files={"../escape": b"x"}))
    with pytest.raises(ValueError):
        await ex.run(_spec(tmp_path))


async def test_blocking_run_is_cancelled_by_stop(tmp_path: Path) -> None:
    ex = FakeExecutor(lambda spec: FakeRun(lines=["started"], block=True))
    spec = _spec(tmp_path)
    run = asyncio.create_task(ex.run(spec))
    await ex.wait_started("t1", 1)
    assert await ex.running() == [("t1", 1)]
    assert spec.log_path.read_bytes() == b"started\n"

    assert await ex.stop("t1", 1) is True
    status = await asyncio.wait_for(run, timeout=1.0)

    assert (status.cancelled, status.exit_code) == (True, 143)
    assert await ex.running() == []
    assert await ex.stop("t1", 1) is False
    assert ex.stops == [("t1", 1), ("t1", 1)]


async def test_blocking_run_can_be_finished_with_its_script(tmp_path: Path) -> None:
    ex = FakeExecutor(lambda spec: FakeRun(block=True, exit_code=5))
    run = asyncio.create_task(ex.run(_spec(tmp_path)))
    await ex.wait_started("t1", 1)

    assert ex.finish("t1", 1) is True
    status = await asyncio.wait_for(run, timeout=1.0)

    assert (status.cancelled, status.exit_code) == (False, 5)
    assert ex.finish("t1", 1) is False


async def test_close_cancels_blocked_runs(tmp_path: Path) -> None:
    ex = FakeExecutor(lambda spec: FakeRun(block=True))
    runs = [asyncio.create_task(ex.run(_spec(tmp_path, f"t{i}"))) for i in range(3)]
    for i in range(3):
        await ex.wait_started(f"t{i}", 1)

    await ex.close()

    statuses = await asyncio.wait_for(asyncio.gather(*runs), timeout=1.0)
    assert all(s.cancelled for s in statuses)
    assert ex.closed


async def test_reap_orphans_reports_the_configured_count_once() -> None:
    ex = FakeExecutor()
    ex.orphans = 2
    assert await ex.reap_orphans() == 2
    assert await ex.reap_orphans() == 0
