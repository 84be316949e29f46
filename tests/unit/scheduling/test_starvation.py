"""A big head task is not starved by a stream of small ones (head-of-line reservation)."""

from dataclasses import dataclass, field

import pytest

from cloudai.domain.resources import Resources
from cloudai.scheduling.registry import SCHEDULER_NAMES, make_scheduler
from cloudai.scheduling.snapshot import QueuedTaskView, RunningView, Snapshot, WorkerView
from tests.unit.scheduling.builders import res

SMALL_RUNTIME = 4.0  # seconds; the stream's tasks are cpu-light (τ 5 s)
TOTAL = res(4, 8, 100)


@dataclass
class Cluster:
    """Workers of 4 CPU full of 0.5-CPU tasks ending one every half second, so each
    worker frees 1 CPU a second, and as many 0.5-CPU tasks arrive as take it all: without
    a reservation, 2 CPU are never free at once when the big task's turn comes."""

    worker_ids: tuple[str, ...]
    stream_user: str
    now: float = 0.0
    queue: list[QueuedTaskView] = field(default_factory=list)
    running: list[RunningView] = field(default_factory=list)
    arrivals: int = 0

    def __post_init__(self) -> None:
        for worker_id in self.worker_ids:
            for n in range(8):
                started = 0.5 * (n + 1) - SMALL_RUNTIME  # ends at 0.5, 1.0, ... 4.0
                self.running.append(
                    RunningView(f"{worker_id}-{n}", worker_id, "u0", res(0.5), started, "cpu-light")
                )

    def arrive(self, task_id: str, cpu: float, user: str) -> None:
        self.queue.append(QueuedTaskView(task_id, user, res(cpu), self.now, task_type="cpu-light"))

    def snapshot(self) -> Snapshot:
        workers = []
        for worker_id in self.worker_ids:
            held = sum((r.request for r in self.running if r.worker_id == worker_id), Resources())
            workers.append(WorkerView(worker_id, TOTAL, (TOTAL - held).clamped()))
        return Snapshot(self.now, tuple(workers), tuple(self.queue), tuple(self.running))

    def step(self, policy: str) -> set[str]:
        """One second: finish what is due, small tasks arrive, one pass; what was placed."""
        self.now += 1.0
        self.running = [r for r in self.running if r.started_at + SMALL_RUNTIME > self.now]
        for _ in range(2 * len(self.worker_ids)):
            self.arrivals += 1
            self.arrive(f"small{self.arrivals}", 0.5, self.stream_user)
        plan = make_scheduler(policy).plan(self.snapshot())
        by_id = {t.task_id: t for t in self.queue}
        for p in plan.placements:
            t = by_id.pop(p.task_id)
            self.running.append(
                RunningView(t.task_id, p.worker_id, t.user_id, t.request, self.now, t.task_type)
            )
        self.queue = list(by_id.values())
        return {p.task_id for p in plan.placements}


@pytest.mark.parametrize("policy", SCHEDULER_NAMES)
@pytest.mark.parametrize("workers", [("w1",), ("w1", "w2")])
@pytest.mark.parametrize("stream_user", ["u1", "u2"])
def test_a_two_cpu_head_task_is_not_starved_by_half_cpu_tasks(
    policy: str, workers: tuple[str, ...], stream_user: str
) -> None:
    cluster = Cluster(workers, stream_user)
    cluster.arrive("big", 2.0, "u1")
    placed_at = None
    for second in range(1, 30):
        if "big" in cluster.step(policy):
            placed_at = second
            break
    assert placed_at is not None, "the 2-CPU task never started"
    assert placed_at <= 3  # 1 CPU a second is freed, and it needed 2
    if len(workers) > 1:  # the stream kept flowing on the worker not reserved
        assert cluster.arrivals - len(cluster.queue) > 0
