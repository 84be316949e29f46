from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from cloudai.worker.executors import ExecutionSpec, ProcessExecutor, build_executor
from cloudai.worker.identity import WorkerIdentity
from tests.helpers import wait_for_log


def _spec(tmp_path: Path, command: str | list[str] | None, task_id: str = "t1") -> ExecutionSpec:
    return ExecutionSpec(
        task_id=task_id,
        epoch=1,
        image="ignored:latest",
        command=command,
        cpu=1.0,
        memory_gb=0.5,
        gpu=0,
        output_dir=tmp_path / "out",
        log_path=tmp_path / "logs" / "task.log",
    )


def _exists(path: str) -> bool:
    return Path(path).exists()


async def test_exit_codes(tmp_path: Path) -> None:
    ex = ProcessExecutor("w1")
    ok = await ex.run(_spec(tmp_path, "true"))
    failed = await ex.run(_spec(tmp_path, "exit 3"))
    assert (ok.exit_code, ok.error, ok.cancelled, ok.succeeded) == (0, "", False, True)
    assert (failed.exit_code, failed.error, failed.succeeded) == (3, "", False)


async def test_stdout_and_stderr_are_appended_intact(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "echo a; echo 12345678901; echo err >&2; printf 'no-eol'")
    spec.log_path.parent.mkdir(parents=True)
    spec.log_path.write_bytes(b"earlier\n")

    status = await ProcessExecutor().run(spec)

    assert status.exit_code == 0
    assert spec.log_path.read_bytes() == b"earlier\na\n12345678901\nerr\nno-eol"


async def test_argv_list_is_not_run_through_a_shell(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ["/bin/echo", "$HOME", "two words"])
    status = await ProcessExecutor().run(spec)
    assert status.exit_code == 0
    assert spec.log_path.read_bytes() == b"$HOME two words\n"


async def test_outputs_go_to_cloudai_output_dir_and_cwd_is_a_scratch_dir(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        'echo hi > "$CLOUDAI_OUTPUT_DIR/x.txt"; test "$OUTPUT_DIR" = '
        '"$CLOUDAI_OUTPUT_DIR" && pwd && echo "$CLOUDAI_TASK_ID/$CLOUDAI_EPOCH"',
    )
    status = await ProcessExecutor(scratch_root=tmp_path / "scratch").run(spec)

    assert status.exit_code == 0
    assert (spec.output_dir / "x.txt").read_bytes() == b"hi\n"
    cwd, ident = spec.log_path.read_text().splitlines()
    assert Path(cwd).parent == tmp_path / "scratch"
    assert not _exists(cwd)  # removed after the run
    assert ident == "t1/1"


async def test_signal_death_is_reported_as_128_plus_signal(tmp_path: Path) -> None:
    status = await ProcessExecutor().run(_spec(tmp_path, "kill -9 $$"))
    assert status.exit_code == 137


async def test_no_command_or_missing_program_is_an_error_not_an_exception(
    tmp_path: Path,
) -> None:
    ex = ProcessExecutor()
    no_command = await ex.run(_spec(tmp_path, None))
    missing = await ex.run(_spec(tmp_path, ["/nonexistent/program"]))
    assert no_command.exit_code is None and "needs a command" in no_command.error
    assert missing.exit_code is None and "/nonexistent/program" in missing.error


async def test_stop_cancels_a_long_running_task_promptly(tmp_path: Path) -> None:
    ex = ProcessExecutor()
    spec = _spec(tmp_path, "echo ready; sleep 60")
    run = asyncio.create_task(ex.run(spec))
    await wait_for_log(spec.log_path, b"ready\n")
    assert await ex.running() == [("t1", 1)]

    started = time.monotonic()
    assert await ex.stop("t1", 1, grace_s=5.0) is True
    status = await asyncio.wait_for(run, timeout=5.0)

    assert time.monotonic() - started < 3.0  # SIGTERM was enough: no wait for the grace
    assert status.cancelled is True
    assert status.exit_code == 143
    assert await ex.running() == []
    assert await ex.stop("t1", 1) is False


async def test_stop_escalates_to_sigkill_after_the_grace(tmp_path: Path) -> None:
    ex = ProcessExecutor()
    # An ignored signal stays ignored across exec, so sleep ignores SIGTERM too.
    spec = _spec(tmp_path, "trap '' TERM; echo ready; sleep 60")
    run = asyncio.create_task(ex.run(spec))
    await wait_for_log(spec.log_path, b"ready\n")

    started = time.monotonic()
    assert await ex.stop("t1", 1, grace_s=0.3) is True
    status = await asyncio.wait_for(run, timeout=5.0)

    assert 0.3 <= time.monotonic() - started < 3.0
    assert (status.cancelled, status.exit_code) == (True, 137)


async def test_stop_of_unknown_task_is_false(tmp_path: Path) -> None:
    assert await ProcessExecutor().stop("nope", 1) is False


async def test_close_stops_what_is_running(tmp_path: Path) -> None:
    ex = ProcessExecutor()
    spec = _spec(tmp_path, "echo ready; sleep 60")
    run = asyncio.create_task(ex.run(spec))
    await wait_for_log(spec.log_path, b"ready\n")

    await asyncio.wait_for(ex.close(), timeout=5.0)

    assert (await run).cancelled is True
    after = await ex.run(_spec(tmp_path, "true", task_id="t2"))
    assert after.exit_code is None and "closed" in after.error


async def test_reap_orphans_touches_nothing() -> None:
    assert await ProcessExecutor().reap_orphans() == 0


W1 = WorkerIdentity("w1", "instance-1")


def test_build_executor_kinds() -> None:
    assert build_executor("process", W1).name == "process"
    assert build_executor("process", W1).sandboxed is False
    assert build_executor("fake", W1).name == "fake"
    assert build_executor("docker", W1).name == "docker"  # no daemon contact until used


def test_build_executor_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown executor kind"):
        build_executor("kubernetes", W1)


async def test_worker_secrets_do_not_leak_into_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDAI_TOKEN", "join-secret")
    monkeypatch.setenv("CLOUDAI_ADMIN_PASSWORD", "admin-secret")
    spec = _spec(tmp_path, "env")
    status = await ProcessExecutor("w1").run(spec)
    assert status.exit_code == 0
    env = spec.log_path.read_text()
    assert "join-secret" not in env and "admin-secret" not in env
    assert "CLOUDAI_OUTPUT_DIR=" in env and "PATH=" in env


def _env_of(log: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in log.read_text().splitlines() if "=" in line)


@pytest.mark.parametrize(("gpu_ids", "visible"), [((1, 3), "1,3"), ((0,), "0"), ((), "")])
async def test_the_task_sees_only_its_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gpu_ids: tuple[int, ...], visible: str
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")  # the worker's own: not inherited
    spec = dataclasses.replace(
        _spec(tmp_path, "env"),
        gpu=len(gpu_ids),
        gpu_ids=gpu_ids,
        env={"CUDA_VISIBLE_DEVICES": "0,1,2,3"},  # nor can the task widen it
    )
    status = await ProcessExecutor("w1").run(spec)
    assert status.exit_code == 0
    env = _env_of(spec.log_path)
    assert (env["CUDA_VISIBLE_DEVICES"], env["CUDA_DEVICE_ORDER"]) == (visible, "PCI_BUS_ID")
