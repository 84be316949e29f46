"""Who the CLI is on which master: `login` (into a named context), `logout`, `whoami`,
`context list|use|remove`, and personal API tokens (`tokens create|list|revoke`)."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cloudai.cli import contexts, ids, render, suggest
from cloudai.cli.client import DEFAULT_URL, ApiError, Client
from cloudai.cli.contexts import Context, Credentials
from cloudai.cli.session import Format, JsonFlag, Output, reported, session, wants_json


def _context_name(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return contexts.check_name(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


ContextName = Annotated[
    str,
    typer.Argument(
        metavar="NAME", show_default=False, autocompletion=suggest.complete_context_name
    ),
]


def login(
    email: Annotated[str, typer.Option("--email", envvar="CLOUDAI_EMAIL", show_default=False)],
    password: Annotated[
        str,
        typer.Option(
            "--password", envvar="CLOUDAI_PASSWORD", prompt=True, hide_input=True,
            help="Prompted for, unechoed, when not given.",
        ),
    ],
    url_arg: Annotated[
        str | None,
        typer.Argument(
            metavar="URL", show_default=False,
            help=f"The master (else --url, CLOUDAI_URL, the context's, {DEFAULT_URL}).",
        ),
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Same as URL.")] = None,
    context: Annotated[
        str | None,
        typer.Option(
            "--context", callback=_context_name, show_default=False, metavar="NAME",
            help="Keep this login under NAME (default: the context for that master, or "
            "its host:port); it becomes the current context.",
        ),
    ] = None,
) -> None:  # fmt: skip
    """Log in to a master; the token is kept in a named context, made current."""
    if url_arg and url and url_arg.rstrip("/") != url.rstrip("/"):
        raise typer.BadParameter("give the master's URL once (URL or --url)")
    with reported():
        wanted = context or contexts.selected()
        target = url_arg or url or os.environ.get("CLOUDAI_URL") or _stored_url(wanted)
        with Client(target) as client:
            answer = client.login(email, password)
        user = answer.get("user") or {}
        name = wanted or contexts.read_or_empty().named_for(client.url)
        credentials = Credentials(client.url, str(answer["access_token"]), name)
        path = contexts.save_credentials(credentials, str(user.get("email") or email))
    render.logged_in(client.url, user, name, str(path))


def _stored_url(name: str | None) -> str:
    """The URL of the named context, else of the current one, else the default."""
    stored = contexts.read_or_empty()
    context = stored.items.get(name or stored.current or "")
    return context.url if context is not None else DEFAULT_URL


def logout() -> None:
    """End the session on the master and forget the context's token (its URL stays)."""
    with session() as client:
        try:
            client.logout()
        except ApiError as exc:
            if exc.status != 401:  # 401: the token is no good anyway; forget it
                raise
    with reported():
        used = contexts.load_credentials().context
        if used is not None:
            contexts.forget_token(used)
    render.info("logged out" + (f" of context {used!r}" if used else ""))


def whoami() -> None:
    """Who the login in use (the context's, or CLOUDAI_TOKEN) is, on which master."""
    with session() as client:
        user = client.me()
        used = contexts.load_credentials().context
    where = f" (context {used})" if used else ""
    render.line(f"{user['email']} ({user['role']}) on {client.url}{where}")


# --- cloudai context … ---------------------------------------------------------------

context_app = typer.Typer(
    help="Named logins (contexts): list them, choose the current one, remove one.",
    no_args_is_help=True,
)


@context_app.command("list")
def context_list(output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """The contexts (never their tokens); `*` marks the current one."""
    with reported():
        stored = contexts.read()
    items = sorted(stored.items.values(), key=lambda c: c.name)
    if wants_json(output, json_flag):
        render.json_doc({"current": stored.current, "contexts": [_context_doc(c) for c in items]})
        return
    if not items:
        render.info("no contexts yet: `cloudai login URL --context NAME` makes one")
        return
    table = Table("", "NAME", "URL", "USER", "LOGIN", box=None)
    for c in items:
        table.add_row(
            Text("*" if c.name == stored.current else ""), Text(c.name), Text(c.url),
            render.cell(c.user), Text("yes" if c.access_token else "logged out"),
        )  # fmt: skip
    render.print_table(table)


def _context_doc(context: Context) -> dict[str, Any]:
    return {"name": context.name, "url": context.url, "user": context.user or None,
            "logged_in": context.access_token is not None}  # fmt: skip


@context_app.command("use")
def context_use(name: ContextName) -> None:
    """Make NAME the current context: the commands go to its master, as its user."""
    with reported():
        chosen = contexts.use(name)
    render.line(f"current context: {chosen.name} ({chosen.url})")


@context_app.command("remove")
def context_remove(name: ContextName) -> None:
    """Forget NAME and its token (the master is not asked: the login just stays unused)."""
    with reported():
        was_current = contexts.remove(name)
    note = "; no context is current now (`cloudai context use NAME`)" if was_current else ""
    render.line(f"removed context {name}{note}")


# --- cloudai tokens … ----------------------------------------------------------------

tokens_app = typer.Typer(
    help="Personal API tokens for programs (CLOUDAI_TOKEN, Authorization: Bearer).",
    no_args_is_help=True,
)
_DAYS = re.compile(r"(\d+)\s*([dwy]?)")
_DAYS_PER = {"": 1, "d": 1, "w": 7, "y": 365}


def parse_days(text: str) -> int:
    """`90`, `90d`, `12w`, `1y` -> days (1-3650)."""
    found = _DAYS.fullmatch(text.strip().lower())
    if found is None:
        raise typer.BadParameter(f"{text!r} is not a number of days (90, 90d, 12w or 1y)")
    days = int(found.group(1)) * _DAYS_PER[found.group(2)]
    if not 1 <= days <= 3650:
        raise typer.BadParameter(f"{text!r} is {days} days; tokens last 1 to 3650 days")
    return days


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="What it is for.")],
    expires: Annotated[
        int | None,
        typer.Option("--expires", parser=parse_days, metavar="DAYS",
                     help="Lifetime: 90, 90d, 12w, 1y (default: never expires)."),
    ] = None,
    output: Output = Format.TABLE, json_flag: JsonFlag = False,
) -> None:  # fmt: skip
    """Create a token; it is printed once, alone on stdout (needs a login, not a token)."""
    with session() as client:
        made = client.create_token(name, expires)
    if wants_json(output, json_flag):
        render.json_doc(made)
        return
    render.line(str(made["token"]))
    until = f"until {render.when(made['expires_at'])}" if made.get("expires_at") else "no expiry"
    render.info(f"{made['token_id']} {made['name']!r} ({until}): shown this once, keep it now")


@tokens_app.command("list")
def tokens_list(output: Output = Format.TABLE, json_flag: JsonFlag = False) -> None:
    """Your tokens, oldest first (never the tokens themselves)."""
    with session() as client:
        listing = client.tokens()
    if wants_json(output, json_flag):
        render.json_doc(listing)
        return
    if not listing["tokens"]:
        render.info("no API tokens")
        return
    table = Table("ID", "NAME", "CREATED", "EXPIRES", "LAST USED", box=None)
    table.columns[0].no_wrap = True
    for t in listing["tokens"]:
        table.add_row(
            Text(t["token_id"]),
            Text(t["name"]),
            *(Text(render.when(t.get(k))) for k in ("created_at", "expires_at", "last_used_at")),
        )
    render.print_table(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID", help="Or its beginning.")],
) -> None:
    """Delete a token: requests with it are refused from now on."""
    with session() as client:
        whole = ids.token(client, token_id)
        client.revoke_token(whole)
    render.line(f"revoked {whole}")


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)
    app.add_typer(context_app, name="context")
    app.add_typer(tokens_app, name="tokens")
