"""DockerExecutor against the real dockerd and the local `cloudai-test:latest` image.

Needs a reachable daemon and the image (scripts/build-test-image.sh); without them
these tests fail rather than skip, so a broken CI environment cannot pass silently.
"""

from __future__ import annotations

import asyncio
import gc
import io
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import NotFound

from cloudai.worker.executors import DockerExecutor, ExecutionSpec
from cloudai.worker.executors.docker import container_name, docker_available
from cloudai.worker.identity import WorkerIdentity
from tests.helpers import wait_for_log
from tests.integration.docker.support import new_identity

pytestmark = pytest.mark.docker

IMAGE = "cloudai-test:latest"
MiB = 1024**2


@pytest.fixture
def client(docker_client: Any) -> Any:
    """The session's Docker client (tests/integration/conftest.py checks the image)."""
    return docker_client


@pytest.fixture
async def executor(identity: WorkerIdentity) -> Any:
    ex = DockerExecutor(identity, pull_policy="never")
    yield ex
    await ex.close()


def _spec(tmp_path: Path, command: str | list[str] | None, **kw: Any) -> ExecutionSpec:
    fields: dict[str, Any] = {
        "task_id": f"t-{uuid.uuid4().hex[:8]}",
        "epoch": 1,
        "image": IMAGE,
        "command": command,
        "cpu": 0.5,
        "memory_gb": 128 * MiB / 1024**3,
        "gpu": 0,
        "output_dir": tmp_path / "out",
        "log_path": tmp_path / "logs" / "task.log",
    }
    fields.update(kw)
    return ExecutionSpec(**fields)


def _gone(client: Any, name: str) -> bool:
    try:
        client.containers.get(name)
    except NotFound:
        return True
    return False


async def test_stdout_is_captured_byte_for_byte(
    executor: DockerExecutor, client: Any, tmp_path: Path
) -> None:
    long_line = "L" * 20_000  # longer than pipe buffers and docker's 16 KiB log messages
    # A final line without a newline is the one a `logs --follow` stream can lose.
    spec = _spec(tmp_path, f"echo a; echo 12345678901; echo {long_line}; printf 'no-eol'")
    spec.log_path.parent.mkdir(parents=True)
    spec.log_path.write_bytes(b"earlier\n")

    status = await executor.run(spec)

    assert (status.exit_code, status.error, status.cancelled) == (0, "", False)
    expected = f"earlier\na\n12345678901\n{long_line}\nno-eol".encode()
    assert spec.log_path.read_bytes() == expected
    await executor.removed()  # exited containers go in the background
    assert _gone(client, container_name(spec.task_id, spec.epoch))


async def test_stderr_lines_are_captured_intact(executor: DockerExecutor, tmp_path: Path) -> None:
    spec = _spec(tmp_path, "echo a; echo 12345678901; echo err >&2; echo 1234567890123 >&2")

    status = await executor.run(spec)

    assert status.exit_code == 0
    lines = spec.log_path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # every line ends with its newline
    # Docker copies the two streams concurrently, so only the order within each holds.
    assert sorted(lines[:-1]) == sorted([b"a", b"12345678901", b"err", b"1234567890123"])
    assert lines.index(b"a") < lines.index(b"12345678901")
    assert lines.index(b"err") < lines.index(b"1234567890123")


async def test_outputs_are_written_to_the_output_dir(
    executor: DockerExecutor, tmp_path: Path
) -> None:
    spec = _spec(
        tmp_path,
        "echo x > /output/x.txt && mkdir -p /output/sub && head -c 3000 /dev/urandom "
        "> /output/sub/y.bin",
    )
    status = await executor.run(spec)
    assert status.exit_code == 0, spec.log_path.read_text()
    assert (spec.output_dir / "x.txt").read_bytes() == b"x\n"
    assert (spec.output_dir / "sub" / "y.bin").stat().st_size == 3000


async def test_exit_code_and_argv_form(executor: DockerExecutor, tmp_path: Path) -> None:
    failed = await executor.run(_spec(tmp_path / "a", "exit 3"))
    argv = _spec(tmp_path / "b", ["/bin/echo", "$HOME", "two words"])
    echoed = await executor.run(argv)

    assert (failed.exit_code, failed.error, failed.oom_killed) == (3, "", False)
    assert echoed.exit_code == 0
    assert argv.log_path.read_bytes() == b"$HOME two words\n"


async def test_image_default_command(executor: DockerExecutor, tmp_path: Path) -> None:
    # The test image has no CMD, so docker itself refuses: a clean error, no exception.
    status = await executor.run(_spec(tmp_path, None))
    assert status.exit_code is None
    assert "create container" in status.error


async def test_memory_limit_is_enforced(executor: DockerExecutor, tmp_path: Path) -> None:
    # busybox tail keeps a newline-free input whole in memory: 200 MiB > 64 MiB.
    spec = _spec(tmp_path, "head -c 200m /dev/zero | tail > /dev/null", memory_gb=64 / 1024)
    status = await executor.run(spec)
    assert status.oom_killed is True


async def test_there_is_no_network(executor: DockerExecutor, tmp_path: Path) -> None:
    spec = _spec(tmp_path, "cat /proc/net/dev")
    status = await executor.run(spec)
    assert status.exit_code == 0
    interfaces = [line.split(":")[0].strip() for line in spec.log_path.read_text().splitlines()[2:]]
    assert interfaces == ["lo"]


async def test_running_container_is_confined(
    executor: DockerExecutor, client: Any, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, "echo ready; sleep 60", cpu=0.5, memory_gb=0.25)
    run = asyncio.create_task(executor.run(spec))
    await wait_for_log(spec.log_path, b"ready\n")

    attrs = client.api.inspect_container(container_name(spec.task_id, spec.epoch))
    host = attrs["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == host["MemorySwap"] == 256 * MiB
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["PidsLimit"] == 512
    assert host["Init"] is True
    assert host["NetworkMode"] == "none"
    assert f"{spec.output_dir.resolve()}:/output:rw" in host["Binds"]
    labels = attrs["Config"]["Labels"]  # the image's own labels are merged in
    assert labels["cloudai.task_id"] == spec.task_id
    assert labels["cloudai.epoch"] == "1"
    assert labels["cloudai.worker_id"] == executor.identity.worker_id
    assert labels["cloudai.instance_id"] == executor.identity.instance_id
    assert labels["cloudai.cluster_id"] == executor.identity.cluster_id
    assert attrs["Config"]["Tty"] is False

    await executor.stop(spec.task_id, spec.epoch, grace_s=1)
    await run


async def test_stop_cancels_promptly_and_removes_the_container(
    executor: DockerExecutor, client: Any, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, "echo ready; sleep 60")
    run = asyncio.create_task(executor.run(spec))
    await wait_for_log(spec.log_path, b"ready\n")
    assert await executor.running() == [(spec.task_id, 1)]

    started = time.monotonic()
    assert await executor.stop(spec.task_id, 1, grace_s=5) is True
    status = await asyncio.wait_for(run, timeout=20)

    assert time.monotonic() - started < 4  # SIGTERM sufficed: the grace was not used up
    assert status.cancelled is True
    assert status.exit_code == 143
    assert status.error == ""
    assert await executor.running() == []
    await executor.removed()
    assert _gone(client, container_name(spec.task_id, 1))
    assert await executor.stop(spec.task_id, 1) is False


async def test_missing_image_with_policy_never(executor: DockerExecutor, tmp_path: Path) -> None:
    status = await executor.run(_spec(tmp_path, "true", image="does-not-exist:1"))
    assert status.exit_code is None
    assert "does-not-exist:1" in status.error
    assert "not present locally" in status.error


async def test_failed_pull_is_an_error(identity: WorkerIdentity, tmp_path: Path) -> None:
    ex = DockerExecutor(identity, pull_policy="always")
    status = await ex.run(_spec(tmp_path, "true", image="does-not-exist:1"))
    await ex.close()
    assert status.exit_code is None
    assert status.error.startswith("pull image 'does-not-exist:1'")


async def test_close_stops_running_containers(
    identity: WorkerIdentity, client: Any, tmp_path: Path
) -> None:
    ex = DockerExecutor(identity, pull_policy="never")
    spec = _spec(tmp_path, "echo ready; sleep 60")
    run = asyncio.create_task(ex.run(spec))
    await wait_for_log(spec.log_path, b"ready\n")

    await asyncio.wait_for(ex.close(), timeout=20)

    status = await run
    assert status.cancelled is True
    assert _gone(client, container_name(spec.task_id, spec.epoch))
    refused = await ex.run(_spec(tmp_path, "true"))
    assert refused.exit_code is None and "closed" in refused.error


async def test_cancelling_the_run_coroutine_removes_the_container(
    executor: DockerExecutor, client: Any, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, "echo ready; sleep 60")
    run = asyncio.create_task(executor.run(spec))
    await wait_for_log(spec.log_path, b"ready\n")

    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert _gone(client, container_name(spec.task_id, spec.epoch))
    assert await executor.running() == []


async def test_reap_orphans_removes_only_containers_of_this_instance_and_cluster(
    executor: DockerExecutor, client: Any, identity: WorkerIdentity
) -> None:
    def leftover(instance_id: str, cluster_id: str) -> Any:
        labels = {
            "cloudai.task_id": "old", "cloudai.epoch": "1",
            "cloudai.worker_id": identity.worker_id,  # the same worker id in every cluster
            "cloudai.instance_id": instance_id, "cloudai.cluster_id": cluster_id,
        }  # fmt: skip
        return client.containers.create(IMAGE, ["true"], labels=labels, network_mode="none")

    mine = leftover(identity.instance_id, identity.cluster_id)
    other = new_identity()
    theirs = [
        leftover(other.instance_id, identity.cluster_id),  # another worker of this cluster
        leftover(identity.instance_id, other.cluster_id),  # a cluster this instance left
        leftover(other.instance_id, other.cluster_id),  # another cluster altogether
    ]
    try:
        assert await executor.reap_orphans() == 1
        with pytest.raises(NotFound):
            client.containers.get(mine.id)
        for container in theirs:
            client.containers.get(container.id)  # still there
    finally:
        for container in theirs:
            container.remove(force=True)


async def test_unreachable_daemon_is_an_error_not_an_exception(tmp_path: Path) -> None:
    def no_daemon() -> Any:
        # An explicit API version: the client is built without a connection, then fails on use.
        return docker.DockerClient(base_url=f"unix://{tmp_path}/missing.sock", version="1.41")

    ex = DockerExecutor(new_identity(), client_factory=no_daemon)
    status = await ex.run(_spec(tmp_path, "true"))
    assert status.exit_code is None
    assert "docker daemon unreachable" in status.error
    await ex.close()
    collect_leaked_docker_sockets()


def test_docker_available(tmp_path: Path) -> None:
    assert docker_available() is True
    missing = f"unix://{tmp_path}/missing.sock"
    assert docker_available(lambda: docker.DockerClient(base_url=missing, version="1.41")) is False
    collect_leaked_docker_sockets()


def collect_leaked_docker_sockets() -> None:
    """docker-py does not close the socket of a failed unix connect (its
    UnixHTTPConnection.connect); collect those here, knowingly, so that the warning
    about them does not land on an unrelated later test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def test_gpu_request_is_wired(tmp_path: Path) -> None:
    # No GPU here: check the create arguments only.
    ex = DockerExecutor(new_identity(), client_factory=lambda: None)
    kwargs = ex._create_kwargs(_spec(tmp_path, "true", gpu=2, gpu_ids=(1, 3)), "n")
    (request,) = kwargs["device_requests"]
    # The attempt's own devices by id, never "any 2": another attempt holds the rest.
    assert (request.device_ids, request.capabilities) == (["1", "3"], [["gpu"]])
    assert not request.count
    assert "device_requests" not in ex._create_kwargs(_spec(tmp_path, "true"), "n")


def test_container_names_are_sanitised() -> None:
    assert container_name("a/b c:d_e.f-g", 7) == "cloudai-a_b_c_d_e.f-g-7"


async def test_an_images_anonymous_volume_goes_with_its_container(
    executor: DockerExecutor, client: Any, tmp_path: Path
) -> None:
    tag = f"cloudai-test-volume:{uuid.uuid4().hex[:12]}"
    dockerfile = io.BytesIO(f"FROM {IMAGE}\nVOLUME /data\n".encode())
    client.images.build(fileobj=dockerfile, tag=tag, rm=True)
    try:
        spec = _spec(tmp_path, "echo ready; sleep 60", image=tag)
        run = asyncio.create_task(executor.run(spec))
        await wait_for_log(spec.log_path, b"ready\n")
        mounts = client.containers.get(container_name(spec.task_id, 1)).attrs["Mounts"]
        (volume,) = [m["Name"] for m in mounts if m["Type"] == "volume"]
        await executor.stop(spec.task_id, 1, grace_s=1)
        await run
        await executor.removed()
        with pytest.raises(NotFound):
            client.volumes.get(volume)
    finally:
        client.images.remove(tag, force=True)
