"""Task outputs: `files [USER_ID]` (tasks with stored outputs), `task-files TASK_ID` (one
task's files) and `download TASK_ID PATH` (checked against its sha256, with a progress
bar on a terminal)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cloudai.cli import ids, render, suggest
from cloudai.cli.client import Client, CliError
from cloudai.cli.session import Format, JsonFlag, Output, session, wants_json

TaskId = Annotated[
    str,
    typer.Argument(
        metavar="TASK_ID", show_default=False, autocompletion=suggest.complete_task_id,
        help="Or its unambiguous beginning.",
    ),
]  # fmt: skip


def files(
    user_id: Annotated[
        str | None,
        typer.Argument(metavar="[USER_ID]", show_default=False,
                       help="Admins: this user's (u-…); without it, yours (an admin's: all)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 100,
    cursor: Annotated[str | None, typer.Option("--cursor", help="From a previous page.")] = None,
    output: Output = Format.TABLE, json_flag: JsonFlag = False,
) -> None:  # fmt: skip
    """Tasks that have stored outputs, newest first: how many files, how many bytes."""
    if user_id is not None and user_id.startswith("task-"):  # user ids are u-…
        raise typer.BadParameter(
            f"{user_id} is a task id; `cloudai task-files {user_id}` lists its files",
            param_hint="USER_ID",
        )
    with session() as client:
        page = client.stored(user_id, limit, cursor)
    if wants_json(output, json_flag):
        render.json_doc(page)
        return
    if not page["tasks"]:
        render.info("no task has stored outputs")
        return
    table = Table("TASK", "NAME", "STATUS", "FINISHED", "FILES", "BYTES", box=None)
    table.columns[0].no_wrap = True
    for t in page["tasks"]:
        table.add_row(Text(t["task_id"]), Text(t["name"]), Text(t["status"]),
                      Text(render.when(t["finished_at"])), Text(str(t["files"])),
                      Text(str(t["total_size"])))  # fmt: skip
    render.print_table(table)
    if page.get("next_cursor"):
        render.info(f"more with --cursor {page['next_cursor']}")


def task_files(task_id: TaskId, output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """List the files a task left under /output."""
    with session() as client:
        listing = client.files(ids.task(client, task_id))
    if wants_json(output, json_flag):
        render.json_doc(listing)
    else:
        render.files_table(listing)


def download(
    task_id: TaskId,
    path: Annotated[
        str, typer.Argument(metavar="PATH", help="As listed by task-files.", show_default=False)
    ],
    out: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File or directory (default: PATH's base name here)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Download one output file of a task; its sha256 is checked against the listing.

    A progress bar shows on stderr when it is a terminal."""
    target = _target(path, out)
    with session() as client:
        if target.exists() and not force:
            raise CliError(f"{target} already exists; pass --force to overwrite it")
        task_id = ids.task(client, task_id)
        listing = client.files(task_id)
        meta = next((f for f in listing["files"] if f["path"] == path), None)
        if meta is None:
            raise CliError(
                f"no file {path!r} in task {task_id} (see `cloudai task-files {task_id}`)"
            )
        _fetch(client, task_id, meta, target, force)
    render.downloaded(str(target.absolute()), int(meta["size"]))


def _target(path: str, out: Path | None) -> Path:
    base = path.rstrip("/").rsplit("/", 1)[-1]
    if out is None:
        return Path.cwd() / base
    return out / base if out.is_dir() else out


def _fetch(client: Client, task_id: str, meta: dict[str, Any], target: Path, force: bool) -> None:
    """Download into a temporary file beside `target`, check it, then move it in place:
    a failed or corrupt download never leaves a partial file under the target's name."""
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as sink, render.progress(target.name, int(meta["size"])) as bar:
            digest = client.download(task_id, str(meta["path"]), sink, bar)
        if digest != meta["sha256"]:
            raise CliError(
                f"sha256 mismatch for {meta['path']}: got {digest}, listed {meta['sha256']}"
            )
        temp.chmod(0o666 & ~_umask())  # as a plain new file would be; mkstemp made it 0600
        if not force:
            _claim(target)
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _claim(target: Path) -> None:
    """Create `target` only if it does not exist (it may have appeared meanwhile)."""
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        raise CliError(f"{target} already exists; pass --force to overwrite it") from None


def register(app: typer.Typer) -> None:
    app.command("files")(files)
    app.command("task-files")(task_files)
    app.command("download")(download)
