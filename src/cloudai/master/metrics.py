"""The master's Prometheus metrics, in the text exposition format 0.0.4.

Aggregates only: counts by status, durations by task type, HTTP timings by route
template. No task id, user, image or worker address ever becomes a label, so the
endpoint may be scraped without a token. Written by hand (the format is small) to
keep prometheus-client out of the dependencies.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cloudai.domain import sla
from cloudai.domain.lifecycle import Transition
from cloudai.domain.task import Task, TaskStatus
from cloudai.domain.workers import WorkerStatus
from cloudai.master.bus import EventBus
from cloudai.master.registry import WorkerRegistry
from cloudai.master.telemetry import Telemetry
from cloudai.ports import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

PLACEMENT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
RUN_BUCKETS = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

Labels = tuple[tuple[str, str], ...]


class Histogram:
    def __init__(self, buckets: Sequence[float]) -> None:
        self.bounds = tuple(sorted(float(b) for b in buckets))
        self.counts = [0] * len(self.bounds)  # per bucket, not cumulative
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        value = max(value, 0.0)  # clock steps must not make a negative duration
        for index, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[index] += 1
                break
        self.sum += value
        self.count += 1


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    kind: str  # gauge | counter | histogram
    help: str
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)  # (suffix, ...)


def gauge(name: str, help_: str, values: Iterable[tuple[Labels, float]]) -> Family:
    return Family(name, "gauge", help_, [("", labels, v) for labels, v in values])


def counter(name: str, help_: str, values: Iterable[tuple[Labels, float]]) -> Family:
    return Family(name, "counter", help_, [("", labels, v) for labels, v in values])


def histogram(name: str, help_: str, series: Mapping[Labels, Histogram]) -> Family:
    samples: list[tuple[str, Labels, float]] = []
    for labels, hist in sorted(series.items(), key=lambda item: item[0]):
        running = 0
        for bound, count in zip(hist.bounds, hist.counts, strict=True):
            running += count
            samples.append(("_bucket", (*labels, ("le", _number(bound))), running))
        samples.append(("_bucket", (*labels, ("le", "+Inf")), hist.count))
        samples.append(("_sum", labels, hist.sum))
        samples.append(("_count", labels, hist.count))
    return Family(name, "histogram", help_, samples)


def render(families: Iterable[Family]) -> str:
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for suffix, labels, value in family.samples:
            lines.append(f"{family.name}{suffix}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels) + "}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return _escape_help(text).replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


class Metrics:
    """Histograms fed by events (task transitions, HTTP requests); gauges read from
    the store and the registry when scraped."""

    def __init__(
        self, store: Store, registry: WorkerRegistry, telemetry: Telemetry, bus: EventBus
    ) -> None:
        self._store = store
        self._bus = bus
        self._registry = registry
        self._telemetry = telemetry
        self._placement = Histogram(PLACEMENT_BUCKETS)
        self._run: dict[Labels, Histogram] = {}
        self._http: dict[Labels, Histogram] = {}

    def observe_transition(self, before: Task, transition: Transition) -> None:
        """A `TaskWriter` observer: placement latency (since the task last entered
        the queue: its submission, or its requeue after a lost attempt) and run
        time (of the attempt that ended the task)."""
        task = transition.task
        if before.status is TaskStatus.QUEUED and task.status is TaskStatus.ASSIGNED:
            self._placement.observe((task.updated_at - before.updated_at).total_seconds())
        attempt = transition.attempt
        if task.status.is_terminal and attempt is not None and attempt.started_at is not None:
            ended = attempt.finished_at or task.updated_at
            task_type = task.task_type if task.task_type in sla.TASK_TYPES else "other"
            run = self._run.setdefault((("task_type", task_type),), Histogram(RUN_BUCKETS))
            run.observe((ended - attempt.started_at).total_seconds())

    def observe_http(self, method: str, route: str, seconds: float) -> None:
        """`route` is the matched template (`/api/tasks/{task_id}`), never the raw
        path: that would let any client mint label values."""
        method = method.upper() if method.upper() in _METHODS else "OTHER"
        key = (("method", method), ("route", route))
        self._http.setdefault(key, Histogram(HTTP_BUCKETS)).observe(seconds)

    async def exposition(self) -> str:
        tasks = await self._store.count_by_status()
        judged = await self._store.sla_counts()
        met = sum(c.met for c in judged)
        workers = Counter(w.status for w in self._registry.all())
        return render(
            [
                gauge("cloudai_tasks", "Tasks by status.",
                      [((("status", s.value),), n) for s, n in tasks.items()]),
                gauge("cloudai_queue_depth", "Tasks waiting to be placed.",
                      [((), tasks[TaskStatus.QUEUED])]),
                gauge("cloudai_workers", "Registered workers by liveness status.",
                      [((("status", s.value),), workers[s]) for s in WorkerStatus]),
                gauge("cloudai_event_subscribers",
                      "Clients waiting on events: /wait callers, log followers, event streams.",
                      [((), self._bus.subscribers)]),
                counter("cloudai_heartbeats_total", "Worker heartbeats accepted since start.",
                        [((), self._telemetry.heartbeats_total)]),
                counter("cloudai_sla_total", "Finished tasks judged against their deadline.",
                        [((("result", "met"),), met),
                         ((("result", "missed"),), sum(c.total for c in judged) - met)]),
                histogram("cloudai_placement_latency_seconds",
                          "Seconds from entering the queue to being assigned a worker.",
                          {(): self._placement}),
                histogram("cloudai_task_run_seconds",
                          "Seconds from start to end of the attempt that finished a task.",
                          self._run),
                histogram("cloudai_http_request_duration_seconds",
                          "REST request handling time by method and route template.",
                          self._http),
            ]
        )  # fmt: skip
