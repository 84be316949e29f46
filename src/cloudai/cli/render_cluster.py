"""Tables and views of the cluster: workers, the queue, the cluster's state, a worker."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cloudai.cli.render import cell, info, print_table, when


def _res(r: dict[str, Any]) -> str:
    return f"{r['cpu']:g} CPU, {r['memory']:g} GiB, {r['gpu']} GPU"


def workers_table(workers: list[dict[str, Any]]) -> Table:
    table = Table("WORKER", "STATUS", "ELIGIBLE", "ALLOCATED / TOTAL", "CPU%", "MEM%",
                  "GPU%", "TASKS", "LAST HEARTBEAT", box=None)  # fmt: skip
    table.columns[0].no_wrap = True
    for w in workers:
        alloc, total, usage = w["allocated_resources"], w["total_resources"], w["usage"]
        table.add_row(
            Text(w["worker_id"]), Text(w["status"]), Text(w["eligibility"]),
            Text(f"{alloc['cpu']:g}/{total['cpu']:g} CPU {alloc['memory']:g}/"
                 f"{total['memory']:g} GiB {alloc['gpu']}/{total['gpu']} GPU"),
            Text(f"{usage['cpu']:.0f}"), Text(f"{usage['memory']:.0f}"),
            Text(f"{usage['gpu']:.0f}"), Text(str(w["running_tasks_count"])),
            Text(when(w["last_heartbeat"])),
        )  # fmt: skip
    return table


def workers(listing: dict[str, Any]) -> None:
    if not listing["workers"]:
        info("no workers registered")
        return
    print_table(workers_table(listing["workers"]))


def queue(page: dict[str, Any]) -> None:
    tasks = page["tasks"]
    if not tasks:
        info("the queue is empty")
        return
    table = Table("POS", "TASK", "USER", "PRIO", "TYPE", "ASKS", "WHY IT WAITS", box=None)
    table.columns[1].no_wrap = True
    for t in tasks:
        table.add_row(
            cell(t["position"]), Text(t["task_id"]), Text(t["user_id"]), Text(str(t["priority"])),
            Text(t["task_type"]), Text(_res(t["request"])), cell(t["pending_reason"]),
        )  # fmt: skip
    print_table(table)
    if page.get("next_cursor"):
        info(f"{page['total']} queued in all; more with --cursor {page['next_cursor']}")


def cluster_view(stats: dict[str, Any], listing: dict[str, Any]) -> RenderableType:
    """The live cluster: totals, tasks by status, SLA, and every worker."""
    res = stats["resources"]
    tasks = ", ".join(f"{k} {v}" for k, v in sorted(stats["tasks"].items()) if v) or "none"
    workers_line = ", ".join(f"{k} {v}" for k, v in sorted(stats["workers"].items()) if v)
    rates = stats["sla"]["by_type"]
    sla = ", ".join(f"{k} {v['rate'] * 100:.0f}% of {v['total']}" for k, v in rates.items())
    lines = [
        f"workers:   {workers_line or 'none'}",
        f"capacity:  {_res(res['allocated'])} allocated of {_res(res['total'])}",
        f"tasks:     {tasks}; {stats['queue_depth']} queued",
        f"SLA met:   {sla or 'no finished task judged yet'}",
    ]
    parts: list[RenderableType] = [Text(line) for line in lines]
    if listing["workers"]:
        parts.append(workers_table(listing["workers"]))
    return Group(*parts)


def worker_view(worker: dict[str, Any], metrics: dict[str, Any]) -> RenderableType:
    """One worker: its numbers, recent usage, and what it runs."""
    w, samples = worker, metrics["samples"][-10:]
    lines = [
        f"{w['worker_id']} ({w['address']}): {w['status']}, {w['eligibility']}",
        f"  total:      {_res(w['total_resources'])}",
        f"  allocated:  {_res(w['allocated_resources'])}",
        f"  available:  {_res(w['available_resources'])}",
        f"  heartbeat:  {when(w['last_heartbeat'])}",
    ]
    usage = Table("AT", "CPU%", "MEM%", "DISK%", "GPU%", title="recent usage", box=None)
    for s in samples:
        usage.add_row(Text(when(s["at"])), *(Text(f"{s[k]:.0f}") for k in
                                             ("cpu", "memory", "storage", "gpu")))  # fmt: skip
    held = Table("TASK", "USER", "STATUS", "ASKS", "STARTED", title="tasks", box=None)
    for t in w.get("tasks", []):
        held.add_row(Text(t["task_id"]), Text(t["user_id"]), Text(t["status"]),
                     Text(_res(t["request"])), Text(when(t["started_at"])))  # fmt: skip
    return Group(*(Text(line) for line in lines), usage, held)
