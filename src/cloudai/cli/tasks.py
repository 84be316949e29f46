"""User-facing verbs: submit and follow tasks. Each command decodes its arguments, calls
the master over HTTP through `Client`, and renders. A task id may be given by its
unambiguous beginning (ids.task), a worker id too (ids.worker)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperOption

from cloudai.cli import account, cluster, files, ids, keys, render, suggest
from cloudai.cli.client import FINAL, Client
from cloudai.cli.session import INTERRUPTED, Format, JsonFlag, Output, session, wants_json
from cloudai.cli.sizes import parse_gib

_FOLLOW_TICK_S = 0.5  # longest wait for new log bytes while a task runs
_START_WAIT_S = 30.0  # longest single wait for a queued task to start
_FINAL_WAIT_S = 60.0  # longest single wait for a task to end
_TAIL_POLLS = 40  # after the task ended, how often to look for its log's last bytes
_TAIL_POLL_S = 0.25
TaskId = files.TaskId


class TaskCommand(TyperCommand):
    """Options may come before or after IMAGE, but the first word after IMAGE starts the
    task's command: its own flags (`sh -c …`) are never taken for ours. `--` also works."""

    leading = 1  # positional words before the task's command (IMAGE)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        valued = {
            name
            for p in self.params
            if isinstance(p, TyperOption) and not p.is_flag and not p.count
            for name in (*p.opts, *p.secondary_opts)
        }
        return super().parse_args(ctx, _mark_command(args, valued, self.leading))


class DispatchCommand(TaskCommand):
    leading = 2  # WORKER_ID IMAGE


def _mark_command(args: list[str], valued: set[str], leading: int = 1) -> list[str]:
    """Insert `--` before the first positional word after the `leading` ones."""
    positional = 0
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return args
        if word.startswith("-") and word != "-":
            i += 2 if word in valued else 1  # a valued option's value follows it
            continue
        positional += 1
        if positional == leading + 1:
            return [*args[:i], "--", *args[i:]]
        i += 1
    return args


Image = Annotated[str, typer.Argument(metavar="IMAGE", show_default=False)]
Command = Annotated[
    list[str] | None,
    typer.Argument(metavar="COMMAND", help="Run as argv; without it, the image's default."),
]
Shell = Annotated[
    str | None, typer.Option("--shell", "-c", help="A string run with /bin/sh -c instead.")
]
Cpu = Annotated[float | None, typer.Option("--cpu", help="Cores (default 1).")]
Memory = Annotated[
    float | None,
    typer.Option(
        "--memory", parser=parse_gib, metavar="SIZE", show_default=False,
        help="GiB (0.5) or docker-style (512m, 2g); default 0.5 GiB.",
    ),
]  # fmt: skip
Storage = Annotated[
    float | None,
    typer.Option(
        "--storage", parser=parse_gib, metavar="SIZE", show_default=False,
        help="GiB (1) or docker-style (512m, 2g); default 1 GiB.",
    ),
]  # fmt: skip
Gpu = Annotated[int | None, typer.Option("--gpu", help="Whole GPUs (default 0).")]
Tag = Annotated[str | None, typer.Option("--tag", help="Task type.")]
K = Annotated[float | None, typer.Option("--k", help="SLA multiplier, 1.5-2.5 (default 2).")]
Name = Annotated[str | None, typer.Option("--name", help="Default: the image.")]
Wait = Annotated[bool, typer.Option("--wait", help="Block until it ends; exit with its code.")]
TaskType = Annotated[
    str | None,
    typer.Option(
        "--type", help="cpu-light, cpu-heavy, memory-heavy, gpu-inference, gpu-training, mixed."
    ),
]
Priority = Annotated[
    int | None,
    typer.Option("--priority", help="Higher first (default 0); only admins go above 0."),
]
Timeout = Annotated[
    float | None,
    typer.Option("--timeout", min=0.001, metavar="SECONDS", help="Stop it after this long."),
]
Retries = Annotated[
    int | None,
    typer.Option("--retries", min=0, help="Reruns after a lost worker (default 3)."),
]
Env = Annotated[
    list[str] | None,
    typer.Option("--env", "-e", metavar="NAME=VALUE", help="An environment variable (repeat)."),
]
Worker = Annotated[
    str | None,
    typer.Option(
        "--worker", help="Run only on this worker.", autocompletion=suggest.complete_worker_id
    ),
]


def _env(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--env")
        env[name] = value
    return env


def task(
    image: Image, command: Command = None, shell: Shell = None, cpu: Cpu = None,
    memory: Memory = None, storage: Storage = None, gpu: Gpu = None, tag: Tag = None,
    k: K = None, name: Name = None, wait: Wait = False, task_type: TaskType = None,
    priority: Priority = None, timeout: Timeout = None, retries: Retries = None,
    env: Env = None, worker: Worker = None,
) -> None:  # fmt: skip
    """Submit a task: IMAGE [COMMAND...]; prints its id. With --wait, exits like `docker run`."""
    if shell is not None and command:
        raise typer.BadParameter("give either --shell or a COMMAND, not both")
    body: dict[str, Any] = {"docker_image": image}
    if shell is not None or command:
        body["command"] = shell if shell is not None else list(command or [])
    given = {"cpu_required": cpu, "memory_required": memory, "storage_required": storage,
             "gpu_required": gpu, "tag": tag, "k_value": k, "name": name,
             "task_type": task_type, "priority": priority, "timeout_seconds": timeout,
             "max_retries": retries, "env": _env(env)}  # fmt: skip
    body.update({key: value for key, value in given.items() if value is not None})
    with session() as client:
        if worker is not None:  # one not registered (yet) is taken as given: the master warns
            body["target_worker_id"] = ids.worker(client, worker, missing_ok=True)
        answer = client.submit(body)
        task_id = str(answer["task_id"])
        if answer.get("warning"):
            render.warn(str(answer["warning"]))  # stderr: stdout stays exactly the id
        if not wait:
            render.task_submitted(task_id)
            return
        render.info(f"{task_id} queued")  # stdout carries the task's own output only
        final = _stream_until_final(client, task_id)
    render.info(render.outcome_line(final))
    raise typer.Exit(exit_code_of(final))


def dispatch(
    worker_id: cluster.WorkerId,
    image: Image, command: Command = None, shell: Shell = None, cpu: Cpu = None,
    memory: Memory = None, storage: Storage = None, gpu: Gpu = None, name: Name = None,
    wait: Wait = False,
) -> None:  # fmt: skip
    """Run a task on the named worker: WORKER_ID IMAGE [COMMAND...] (the seed's verb;
    it waits in the queue until that worker has room)."""
    task(image, command, shell, cpu, memory, storage, gpu, name=name, wait=wait, worker=worker_id)


def _stream_until_final(client: Client, task_id: str) -> dict[str, Any]:
    """Print the log as it comes (like `docker run`), then the task as it ended."""
    try:
        _print_log(client, task_id, follow=True)
        while True:
            current = client.wait(task_id, FINAL, _FINAL_WAIT_S)
            if current["status"] in FINAL:
                return current
    except KeyboardInterrupt:
        render.info(f"stopped waiting; {task_id} goes on (`cloudai cancel {task_id}` stops it)")
        raise typer.Exit(INTERRUPTED) from None


# docker run's exit statuses for what is not the task's own exit code.
NEVER_RAN, OUT_OF_MEMORY, TIMED_OUT = 125, 137, 124


def exit_code_of(task: dict[str, Any]) -> int:
    """Like `docker run`: 0; the task's own code; 137 out of memory; 124 timed out;
    130 cancelled; 125 when it never ran (pull failed, refused)."""
    status, code = task["status"], task.get("exit_code")
    reason = str(task.get("reason") or "")
    if status == "completed":
        return 0
    if status == "cancelled":
        return INTERRUPTED
    if reason.startswith("timeout"):
        return TIMED_OUT
    if reason.startswith("out of memory") or any(
        a.get("oom_killed") for a in task.get("attempts") or []
    ):
        return OUT_OF_MEMORY
    if isinstance(code, int) and code > 0:
        return code
    return NEVER_RAN if code is None else 1


def list_tasks(
    status: Annotated[
        str | None,
        typer.Option("--status", help="queued, assigned, running, completed, failed, cancelled."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    output: Output = Format.TABLE,
    json_flag: JsonFlag = False,
) -> None:
    """List your tasks, newest first."""
    with session() as client:
        answer = client.list_tasks(status, limit)
    if wants_json(output, json_flag):
        render.json_doc(answer)
    else:
        render.tasks_table(answer["tasks"])


def status(
    task_id: Annotated[
        str | None,
        typer.Argument(
            metavar="[TASK_ID]",
            help="Or its beginning; without it: the whole cluster.",
            autocompletion=suggest.complete_task_id,
        ),
    ] = None,
    watch: cluster.Watch = False,
    interval: cluster.Interval = 2.0,
    output: Output = Format.TABLE,
    json_flag: JsonFlag = False,
) -> None:
    """The cluster at a glance; with TASK_ID, that task: status, why it waits, attempts.

    Without TASK_ID, --watch keeps it live until `q` (exit 0) or Ctrl-C (130)."""
    with session() as client:
        if task_id is None:
            cluster.cluster_status(client, output, json_flag, watch, interval)
            return
        detail = client.task(ids.task(client, task_id))
    if wants_json(output, json_flag):
        render.json_doc(detail)
    else:
        render.task_detail(detail)


def events(task_id: TaskId, output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """A task's status changes, oldest first, each with its reason."""
    with session() as client:
        detail = client.task(ids.task(client, task_id))
    if wants_json(output, json_flag):
        render.json_doc({"task_id": detail["task_id"], "events": detail.get("events") or []})
    else:
        render.events(detail.get("events") or [])


def monitor(task_id: TaskId) -> None:
    """Follow a task: its status changes on stderr, its live log on stdout, until it ends.

    `q` leaves with status 0, Ctrl-C with 130; the task goes on either way."""
    with session() as client:
        task_id = ids.task(client, task_id)
        final: dict[str, Any] = {}
        with keys.quit_on_q() as pressed:
            final = _monitor(client, task_id)
    if pressed.quit:
        render.info(f"stopped monitoring; {task_id} goes on")
    else:
        render.info(render.outcome_line(final))


def _monitor(client: Client, task_id: str) -> dict[str, Any]:
    seen = client.task(task_id)
    render.info(f"{task_id} {seen['status']}")
    if seen["status"] not in ("running", *FINAL):
        seen = client.wait(task_id, ("running", *FINAL), _START_WAIT_S * 10)
        render.info(f"{task_id} {seen['status']}")
    _print_log(client, task_id, follow=True)
    return client.wait(task_id, FINAL, _FINAL_WAIT_S)


def logs(
    task_id: TaskId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the task has ended.")
    ] = False,
) -> None:
    """Print a task's log (stdout and stderr of its current attempt)."""
    with session() as client:
        task_id = ids.task(client, task_id)
        try:
            _print_log(client, task_id, follow)
        except KeyboardInterrupt:
            raise typer.Exit(INTERRUPTED) from None


def _print_log(client: Client, task_id: str, follow: bool) -> None:
    """Read from `next_offset` on, so no byte is printed twice or skipped."""
    offset, tail_polls = 0, 0
    while True:
        piece = client.logs(task_id, offset)
        if piece["logs"]:
            render.raw(piece["logs"])
        moved = piece["next_offset"] > offset
        offset = piece["next_offset"]
        if piece["complete"] or (not follow and not moved):
            return
        if moved:
            tail_polls = 0
        elif piece["status"] not in FINAL:
            _await_bytes(client, task_id, piece["status"])
        elif tail_polls < _TAIL_POLLS:
            tail_polls += 1  # ended; its last bytes are still on their way to the master
            time.sleep(_TAIL_POLL_S)
        else:
            render.info(f"{task_id} has ended but its log is not complete yet")
            return


def _await_bytes(client: Client, task_id: str, status: str) -> None:
    """Block on /wait instead of polling: until a queued task starts, or briefly while it
    runs (woken at once when it ends)."""
    if status == "running":
        client.wait(task_id, FINAL, _FOLLOW_TICK_S)
    else:
        client.wait(task_id, ("running", *FINAL), _START_WAIT_S)


def cancel(task_id: TaskId) -> None:
    """Cancel a queued, assigned or running task."""
    with session() as client:
        answer = client.cancel(ids.task(client, task_id))
    render.task_cancelled(answer)


def register(app: typer.Typer) -> None:
    """Add the user verbs to the `cloudai` command."""
    app.command("task", cls=TaskCommand)(task)
    app.command("list-tasks")(list_tasks)
    app.command("status")(status)
    app.command("logs")(logs)
    app.command("cancel")(cancel)
    app.command("events")(events)
    app.command("monitor")(monitor)
    app.command("dispatch", cls=DispatchCommand)(dispatch)
    files.register(app)
    cluster.register(app)
    account.register(app)
