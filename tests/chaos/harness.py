"""The chaos harness: a master and workers as separate `cloudai` processes on 127.0.0.1
(each can be killed, frozen or restarted alone), the Docker events of their containers,
and the checks every chaos test ends with.

Nothing here touches what the test did not create: processes are the harness's own,
ports are free ones, data directories are temporary, and containers are found by the
`cloudai.cluster_id` label of this cluster only.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx

from tests.e2e.cluster import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    TERMINAL,
    Cluster,
    Daemon,
    clean_env,
    free_port,
)

# Runs until the test drops `go` into the attempt's /output: no timing guesses.
HOLD = "echo started; while [ ! -e /output/go ]; do sleep 0.1; done; echo finished"
LABEL_CLUSTER = "cloudai.cluster_id"
LABEL_TASK = "cloudai.task_id"
LABEL_EPOCH = "cloudai.epoch"
FINAL_ATTEMPT = {"succeeded", "failed", "cancelled", "timed_out"}  # an attempt that ends a task


@dataclass(frozen=True, slots=True)
class Timings:
    """The shortened timeouts of a chaos cluster (the defaults in brackets)."""

    heartbeat_s: float = 0.5  # CLOUDAI_WORKER_HEARTBEAT_S (5)
    suspect_s: float = 2.0  # CLOUDAI_HEARTBEAT_SUSPECT_S (15)
    lost_s: float = 4.0  # CLOUDAI_HEARTBEAT_LOST_S (30)
    disconnect_limit_s: float = 6.0  # CLOUDAI_WORKER_DISCONNECT_LIMIT_S (120)
    stop_grace_s: float = 1.0  # CLOUDAI_WORKER_STOP_GRACE_S (10)
    stop_report_s: float = 3.0  # CLOUDAI_WORKER_STOP_REPORT_S (10)
    assign_timeout_s: float = 5.0  # CLOUDAI_ASSIGN_TIMEOUT_S (10)

    @classmethod
    def chosen(cls) -> Timings:
        """The shortened timings, or CloudAI's defaults with CHAOS_TIMINGS=defaults
        (slow: it is how RELIABILITY.md's figures for the defaults were measured)."""
        if os.environ.get("CHAOS_TIMINGS") == "defaults":
            return cls(5.0, 15.0, 30.0, 120.0, 10.0, 10.0, 10.0)
        return cls()

    @property
    def liveness_check_s(self) -> float:
        """How often the master looks for silent workers (master/app.py)."""
        return max(self.suspect_s / 5, 0.5)

    def master_env(self) -> dict[str, str]:
        return {
            "CLOUDAI_HEARTBEAT_SUSPECT_S": f"{self.suspect_s:g}",
            "CLOUDAI_HEARTBEAT_LOST_S": f"{self.lost_s:g}",
            "CLOUDAI_ASSIGN_TIMEOUT_S": f"{self.assign_timeout_s:g}",
        }

    def worker_env(self) -> dict[str, str]:
        return {
            "CLOUDAI_WORKER_HEARTBEAT_S": f"{self.heartbeat_s:g}",
            "CLOUDAI_WORKER_DISCONNECT_LIMIT_S": f"{self.disconnect_limit_s:g}",
            "CLOUDAI_WORKER_STOP_GRACE_S": f"{self.stop_grace_s:g}",
            "CLOUDAI_WORKER_STOP_REPORT_S": f"{self.stop_report_s:g}",
        }


@dataclass(frozen=True, slots=True)
class ContainerEvent:
    action: str  # create, start, kill, die, destroy, ...
    at: float  # unix seconds, the Docker daemon's clock (this host's)
    task_id: str
    epoch: int


class ContainerEvents:
    """Every event of this cluster's containers, read from `docker events` as it comes.
    `--since` a moment before the first container replays what happened before the
    subscription, so nothing is missed however late the reader starts."""

    def __init__(self, cluster_id: str, since: float) -> None:
        self._process = subprocess.Popen(
            ["docker", "events", "--since", f"{since:.6f}", "--format", "{{json .}}",
             "--filter", "type=container", "--filter", f"label={LABEL_CLUSTER}={cluster_id}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self._events: list[ContainerEvent] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout: IO[bytes] | None = self._process.stdout
        assert stdout is not None
        for line in stdout:
            raw = json.loads(line)
            labels = raw.get("Actor", {}).get("Attributes", {})
            if LABEL_TASK not in labels:
                continue
            event = ContainerEvent(
                raw.get("Action", raw.get("status", "")),
                int(raw["timeNano"]) / 1e9,
                labels[LABEL_TASK],
                int(labels.get(LABEL_EPOCH, "0")),
            )
            with self._changed:
                self._events.append(event)
                self._changed.notify_all()

    def at(self, task_id: str, epoch: int, action: str) -> float | None:
        """When the container of this attempt first did `action`; None if it has not."""
        with self._changed:
            return _first(self._events, task_id, epoch, action)

    def wait(self, task_id: str, epoch: int, action: str, timeout: float = 30) -> float:
        """Block until the attempt's container does `action`; when it did."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: _first(self._events, task_id, epoch, action) is not None, timeout
            )
            when = _first(self._events, task_id, epoch, action)
        assert found and when is not None, (
            f"no {action} of {task_id}/{epoch} within {timeout} s: {self.of(task_id)}"
        )
        return when

    def of(self, task_id: str) -> list[ContainerEvent]:
        with self._changed:
            return [e for e in self._events if e.task_id == task_id]

    def lifetimes(self, task_id: str, now: float | None = None) -> dict[int, tuple[float, float]]:
        """Each attempt's container: from its start to its death (or `now` if alive)."""
        end = time.time() if now is None else now
        spans: dict[int, tuple[float, float]] = {}
        for event in self.of(task_id):
            if event.action == "start" and event.epoch not in spans:
                died = self.at(task_id, event.epoch, "die")
                spans[event.epoch] = (event.at, died if died is not None else end)
        return spans

    def overlap(self, task_id: str) -> float:
        """The longest time two containers of one task ran at once (0: never)."""
        spans = sorted(self.lifetimes(task_id).values())
        longest = 0.0
        for index, (start, end) in enumerate(spans):
            for other_start, other_end in spans[index + 1 :]:
                longest = max(longest, min(end, other_end) - max(start, other_start))
        return longest

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait(timeout=10)
        self._reader.join(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()


def _first(events: list[ContainerEvent], task_id: str, epoch: int, action: str) -> float | None:
    return next(
        (e.at for e in events if (e.task_id, e.epoch, e.action) == (task_id, epoch, action)),
        None,
    )


@dataclass
class ChaosCluster:
    """`cloudai master` and `cloudai worker` processes of one cluster, on free ports
    with a data directory each under `root`, all with the docker executor."""

    root: Path
    timings: Timings = field(default_factory=Timings.chosen)
    master_args: list[str] = field(default_factory=list)
    master_env: dict[str, str] = field(default_factory=dict)
    master_dir: Path = field(init=False)
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    master: Daemon | None = None
    api: Cluster | None = None
    workers: dict[str, Daemon] = field(default_factory=dict)
    events: ContainerEvents | None = None
    figures: dict[str, float] = field(default_factory=dict)
    _frozen: set[str] = field(default_factory=set)
    _created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.master_dir = self.root / "master"

    # --- starting

    def start(self, *worker_ids: str) -> None:
        """The master, the container event log, then the workers."""
        self.start_master()
        self.events = ContainerEvents(self.cluster_id, self._created_at - 1)
        self.start_workers(*worker_ids)

    def start_master(self) -> float:
        """Start (or restart) the master on the same ports and data directory; returns
        the seconds until it served (its banner comes once HTTP and gRPC listen)."""
        begun = time.monotonic()
        env = clean_env(
            CLOUDAI_ADMIN_EMAIL=ADMIN_EMAIL, CLOUDAI_ADMIN_PASSWORD=ADMIN_PASSWORD,
            CLOUDAI_JOIN_TOKEN=self.token, **self.timings.master_env(), **self.master_env,
        )  # fmt: skip
        self.master = Daemon(
            ["master", "--data-dir", str(self.master_dir), "--http-port", str(self.http_port),
             "--grpc-port", str(self.grpc_port), *self.master_args],
            env,
        )  # fmt: skip
        banner = self.master.wait_for_output(f"--master 127.0.0.1:{self.grpc_port}")
        served = time.monotonic() - begun
        self.api = Cluster(self.master, self.base_url, self.grpc_port, self.master_dir, banner)
        return served

    def start_workers(self, *worker_ids: str, **extra_env: str) -> None:
        """Start workers at once (same id, same data directory on a restart) and wait
        until each has registered; `extra_env`: more CLOUDAI_ variables for them."""
        env = clean_env(
            CLOUDAI_JOIN_TOKEN=self.token, CLOUDAI_WORKER_CPU="4", CLOUDAI_WORKER_MEMORY_GB="8",
            **self.timings.worker_env(), **extra_env,
        )  # fmt: skip
        for worker_id in worker_ids:
            self.workers[worker_id] = Daemon(
                ["worker", "--master", f"127.0.0.1:{self.grpc_port}", "--port", "0",
                 "--id", worker_id, "--data-dir", str(self.worker_dir(worker_id)),
                 "--executor", "docker"],
                env,
            )  # fmt: skip
        for worker_id in worker_ids:
            self.workers[worker_id].wait_for_output("registered with master")

    # --- faults

    def kill_worker(self, worker_id: str) -> float:
        """kill -9; returns when (unix seconds)."""
        return _kill(self.workers[worker_id])

    def kill_master(self) -> float:
        assert self.master is not None
        return _kill(self.master)

    def stop_worker(self, worker_id: str) -> int:
        """SIGTERM, as an operator's restart does; its exit status."""
        return self.workers[worker_id].stop(signal.SIGTERM, timeout=60)

    def freeze(self, worker_id: str) -> float:
        self._frozen.add(worker_id)
        self.workers[worker_id].send(signal.SIGSTOP)
        return time.time()

    def thaw(self, worker_id: str) -> float:
        self.workers[worker_id].send(signal.SIGCONT)
        self._frozen.discard(worker_id)
        return time.time()

    # --- tasks

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def cluster_id(self) -> str:
        return (self.master_dir / "cluster-id").read_text().strip()

    @property
    def log(self) -> ContainerEvents:
        assert self.events is not None, "start() first"
        return self.events

    def admin(self) -> httpx.Client:
        assert self.api is not None, "start() first"
        return self.api.login_admin()

    def user(self, name: str) -> httpx.Client:
        assert self.api is not None, "start() first"
        return self.api.user(name)

    def worker_dir(self, worker_id: str) -> Path:
        return self.root / f"worker-{worker_id}"

    def output_dir(self, worker_id: str, task_id: str, epoch: int) -> Path:
        return self.worker_dir(worker_id) / worker_id / "attempts" / f"{task_id}-{epoch}" / "output"

    def release(self, task: dict[str, Any]) -> None:
        """Let the task's current attempt end (HOLD waits for this file)."""
        (self.output_dir(task["worker_id"], task["task_id"], task["attempt"]) / "go").touch()

    def containers(self) -> list[str]:
        assert self.api is not None, "start() first"
        return self.api.containers()

    def running_containers(self, task_id: str) -> list[str]:
        listed = subprocess.run(
            ["docker", "ps", "--format", "{{.Names}}", "--filter", "status=running",
             "--filter", f"label={LABEL_CLUSTER}={self.cluster_id}",
             "--filter", f"label={LABEL_TASK}={task_id}"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return listed.stdout.split()

    # --- the end

    def close(self) -> None:
        """Stop whatever still runs (thawed first), then remove what this cluster left
        behind: its own containers only, found by its label."""
        for worker_id in list(self._frozen):
            self.thaw(worker_id)
        for daemon in [*self.workers.values(), *([self.master] if self.master else [])]:
            try:
                daemon.stop(signal.SIGTERM, timeout=60)
            except subprocess.TimeoutExpired:
                daemon.wait(timeout=10)
        if self.events is not None:
            self.events.close()
        if (self.master_dir / "cluster-id").exists():
            leftover = subprocess.run(
                ["docker", "ps", "-aq", "--filter", f"label={LABEL_CLUSTER}={self.cluster_id}"],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            if leftover:
                subprocess.run(["docker", "rm", "-f", "-v", *leftover], capture_output=True)

    def note(self, name: str, seconds: float) -> None:
        """A measured figure, printed with the test's output (pytest -rP shows it)."""
        self.figures[name] = seconds
        print(f"figure {name}: {seconds:.2f} s")


def _kill(daemon: Daemon) -> float:
    daemon.send(signal.SIGKILL)
    when = time.time()
    daemon.wait(timeout=30)
    return when


# --- reading tasks


def detail(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.get(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


def at(timestamp: str) -> float:
    """An API timestamp as unix seconds."""
    return datetime.fromisoformat(timestamp).timestamp()


def attempt_statuses(task: dict[str, Any]) -> list[str]:
    return [a["status"] for a in sorted(task["attempts"], key=lambda a: a["epoch"])]


def requeued_at(task: dict[str, Any], because: str) -> float:
    """When the task went back to the queue for `because` (a word of the reason)."""
    times = [at(e["at"]) for e in task["events"]
             if e["to_status"] == "queued" and because in e["reason"]]  # fmt: skip
    assert times, f"never requeued for {because!r}: {task['events']}"
    return times[0]


# --- the checks every chaos test ends with


def assert_ended_once(task: dict[str, Any], status: str) -> None:
    """The task ended exactly once, with `status`, and nothing happened to it after;
    exactly one attempt carries the outcome and none was cancelled unless it was."""
    terminal = [e["to_status"] for e in task["events"] if e["to_status"] in TERMINAL]
    assert terminal == [status], task["events"]
    assert task["status"] == status and task["events"][-1]["to_status"] == status, task
    final = [a for a in task["attempts"] if a["status"] in FINAL_ATTEMPT]
    assert len(final) == 1, task["attempts"]
    assert final[0]["epoch"] == task["attempt"], task["attempts"]
    if status != "cancelled":
        assert "cancelled" not in attempt_statuses(task), task["attempts"]


def assert_nothing_holds(admin: httpx.Client) -> None:
    """No task of anyone is left assigned or running."""
    for status in ("assigned", "running"):
        page = admin.get("/api/tasks", params={"status": status, "limit": 500})
        assert page.status_code == 200, page.text
        assert page.json()["tasks"] == [], f"left {status}: {page.json()['tasks']}"


def assert_clean(
    cluster: ChaosCluster, admin: httpx.Client, task_ids: Iterable[str], *, overlap_s: float
) -> None:
    """Nothing holds a worker, no attempt pair overlapped longer than `overlap_s`, and
    no container (with its anonymous volumes) of this cluster is left."""
    assert_nothing_holds(admin)
    for task_id in task_ids:
        overlap = cluster.log.overlap(task_id)
        assert overlap <= overlap_s, f"{task_id}: attempts overlapped {overlap:.2f} s"
    assert cluster.containers() == []


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """A bounded poll, for states nothing can be awaited on (a process's exit code, a
    file on disk); never for a task's status, which the wait endpoint gives."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)
