"""The admin's verbs (the seed's register, unregister, fix-resources, internal-state,
and user management), over HTTP like every other verb.

    cloudai register ADDRESS [--id ID]     pre-register a worker started with --wait-for-master
    cloudai unregister WORKER_ID           drain it, then remove it
    cloudai fix-resources                  compare what workers run with what the master holds
    cloudai internal-state                 the master's in-memory state
    cloudai users [list]                   accounts; disable|enable|make-admin|remove-admin USER
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table
from rich.text import Text

from cloudai.cli import ids, render, suggest
from cloudai.cli.client import ApiError, Client
from cloudai.cli.session import Format, JsonFlag, Output, session, wants_json

Address = Annotated[str, typer.Argument(metavar="ADDRESS", help="The worker's HOST:PORT.")]
WorkerId = Annotated[
    str,
    typer.Argument(
        metavar="WORKER_ID", show_default=False, autocompletion=suggest.complete_worker_id
    ),
]
UserRef = Annotated[str, typer.Argument(metavar="USER", help="A user id or email.")]

users_app = typer.Typer(
    help="Accounts (admins): list; disable, enable, make-admin, remove-admin USER.",
    no_args_is_help=False,
    invoke_without_command=True,
)


def _path(value: str) -> str:
    return quote(value, safe="")


def register_worker(
    address: Address,
    worker_id: Annotated[
        str | None, typer.Option("--id", help="The id the worker must have.", show_default=False)
    ] = None,
    output: Output = Format.TABLE, json_flag: JsonFlag = False,
) -> None:  # fmt: skip
    """Admins: register the worker at ADDRESS (started with --wait-for-master).

    The master sends it a one-time registration token, and the worker joins with it."""
    body: dict[str, Any] = {"address": address}
    if worker_id:
        body["worker_id"] = worker_id
    with session() as client:
        answer = client.request("POST", "/api/workers", json=body)
    if wants_json(output, json_flag):
        render.json_doc(answer)
    else:
        render.line(f"{answer['worker_id']}: {answer['state']} (invited at {answer['address']})")


def unregister(
    worker_id: WorkerId, output: Output = Format.TABLE, json_flag: JsonFlag = False
) -> None:
    """Admins: drain the worker and remove it once no task runs there."""
    with session() as client:
        worker_id = ids.worker(client, worker_id)  # an unambiguous prefix will do
        answer = client.request("DELETE", f"/api/workers/{_path(worker_id)}")
    if wants_json(output, json_flag):
        render.json_doc(answer)
    elif answer["state"] == "removed":
        render.line(f"{answer['worker_id']}: removed")
    else:
        render.line(f"{answer['worker_id']}: draining (removed once its tasks end)")


def fix_resources(output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """Admins: recompute what each worker holds and report the drift.

    Compares the tasks holding resources on each worker with what it last reported
    running; ends the attempts it lost and stops those it should not run."""
    with session() as client:
        answer = client.request("POST", "/api/admin/fix-resources")
    if wants_json(output, json_flag):
        render.json_doc(answer)
        return
    if not answer["workers"]:
        render.info("no workers registered")
        return
    table = Table("WORKER", "ALLOCATED", "MISSING ON WORKER", "UNKNOWN TO MASTER", "IN FLIGHT",
                  "FIXED", box=None)  # fmt: skip
    for w in answer["workers"]:
        d, a = w["drift"], w["drift"]["allocated"]
        table.add_row(
            Text(w["worker_id"]), Text(f"{a['cpu']:g} CPU {a['memory']:g} GiB {a['gpu']} GPU"),
            Text(", ".join(d["missing_on_worker"]) or "-"),
            Text(", ".join(d["unknown_to_master"]) or "-"),
            Text(", ".join(d["in_flight"]) or "-"), Text("yes" if w["fixed"] else "no"),
        )  # fmt: skip
    render.print_table(table)


def internal_state(output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """Admins: the master's in-memory state (registry, reports, queue, scheduler, bus)."""
    with session() as client:
        state = client.request("GET", "/api/admin/internal-state")
    if wants_json(output, json_flag):
        render.json_doc(state)
        return
    table = Table("WORKER", "STATUS", "ELIGIBLE", "ADDRESS", "LAST HEARTBEAT", "REPORTED", box=None)
    reports = state["reported_running"]
    for w in state["registry"]:
        seen = reports.get(w["worker_id"])
        table.add_row(
            Text(w["worker_id"]), Text(w["status"]), Text(w["eligibility"]), Text(w["address"]),
            Text(render.when(w["last_heartbeat"])),
            Text("-" if seen is None else f"{len(seen['attempts'])} attempts"),
        )  # fmt: skip
    render.print_table(table)
    sched, bus = state["scheduler"], state["bus"]
    render.block([
        f"queue: {state['queue']['total']} queued",
        f"scheduler: {sched['in_use']} (every {sched['interval_s']:g} s)",
        f"event bus: {bus['subscribers']} subscribers, {bus['dropped_total']} dropped",
        f"pending registrations: {len(state['registrations'])}; "
        f"removing: {', '.join(state['removing']) or '-'}",
    ])  # fmt: skip


@users_app.callback()
def users(ctx: typer.Context, output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """Admins: the accounts (`cloudai users` lists them)."""
    if ctx.invoked_subcommand is None:
        list_users(output, json_flag)


@users_app.command("list")
def list_users(output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """Every account: id, name, email, admin, disabled."""
    with session() as client:
        listing = client.request("GET", "/api/admin/users")
    if wants_json(output, json_flag):
        render.json_doc(listing)
        return
    table = Table("ID", "NAME", "EMAIL", "ADMIN", "DISABLED", "CREATED", box=None)
    for u in listing["users"]:
        table.add_row(
            Text(u["id"]), Text(u["name"]), Text(u["email"]), Text("yes" if u["is_admin"] else ""),
            Text("yes" if u["disabled"] else ""), Text(render.when(u["created_at"])),
        )  # fmt: skip
    render.print_table(table)


def _user_id(client: Client, user: str) -> str:
    """USER as an id, or the id of the account with that email."""
    if "@" not in user:
        return user
    for u in client.request("GET", "/api/admin/users")["users"]:
        if u["email"] == user.strip().lower():
            return str(u["id"])
    raise ApiError(404, "not_found", f"no user with email {user}")


def _change(user: str, change: dict[str, bool], said: str, output: Format, json_flag: bool) -> None:
    with session() as client:
        answer = client.request("PATCH", f"/api/admin/users/{_path(_user_id(client, user))}",
                                json=change)  # fmt: skip
    if wants_json(output, json_flag):
        render.json_doc(answer)
    else:
        render.line(f"{answer['email']} ({answer['id']}): {said}")


@users_app.command("disable")
def disable(user: UserRef, output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """Disable the account: its sessions and API tokens stop working at once."""
    _change(user, {"disabled": True}, "disabled", output, json_flag)


@users_app.command("enable")
def enable(user: UserRef, output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """Enable a disabled account (it logs in again; old sessions stay ended)."""
    _change(user, {"disabled": False}, "enabled", output, json_flag)


@users_app.command("make-admin")
def make_admin(user: UserRef, output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """Make the user an admin."""
    _change(user, {"is_admin": True}, "admin", output, json_flag)


@users_app.command("remove-admin")
def remove_admin(user: UserRef, output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """Make an admin a plain user again (never yourself)."""
    _change(user, {"is_admin": False}, "not an admin", output, json_flag)


def register(app: typer.Typer) -> None:
    """Add the admin verbs to the `cloudai` command."""
    panel = "Administration"
    app.command("register", rich_help_panel=panel)(register_worker)
    app.command("unregister", rich_help_panel=panel)(unregister)
    app.command("fix-resources", rich_help_panel=panel)(fix_resources)
    app.command("internal-state", rich_help_panel=panel)(internal_state)
    app.add_typer(users_app, name="users", rich_help_panel=panel)
