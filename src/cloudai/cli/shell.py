"""`cloudai shell`: an interactive prompt over the same commands as the one-shot CLI.

Each line is split by shell rules (shlex) and run by the very click command `cloudai`
runs, so a verb behaves, prints and fails in the shell exactly as on the command line;
its exit status is kept and the prompt comes back. Ctrl-C stops the command that runs
(or clears the line being typed), never the shell; Ctrl-D or `exit` leaves. The process
commands (`up`, `master`, `worker`, `agent`) are refused: they belong in a shell of their
own. TAB completes commands, flags, choices, task ids and worker ids; history is kept in
the CLI's config directory (never a line that carries a password or token).

prompt_toolkit is imported by this module only, and this module only when the shell runs.
Without a terminal, the lines of stdin are run one after another (no prompt)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, ThreadedCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from cloudai.cli import contexts, render, suggest
from cloudai.cli.client import CliError, ensure_config_dir

PROG = "cloudai"
PROMPT = "cloudai> "
HISTORY_FILE = "shell-history"
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130
SECRET_FLAGS = ("--password", "--token", "--join-token")
_FORGETS_IDS = ("login", "logout")  # the ids cached for completion were someone else's

Invoke = Callable[[list[str]], int]


class Leave(Exception):
    """`exit [CODE]` was typed."""

    def __init__(self, code: int = OK) -> None:
        super().__init__(code)
        self.code = code


def invoker(command: Any) -> Invoke:
    """Run argv through `command` (the click command `cloudai` runs) as the one-shot CLI
    would: typer prints usage errors, maps Ctrl-C to 130 and ends with SystemExit; here
    that exit is caught and becomes the line's status."""

    def invoke(argv: list[str]) -> int:
        try:
            command.main(args=argv, prog_name=PROG, standalone_mode=True)
        except SystemExit as exc:
            return exit_status(exc.code)
        return OK

    return invoke


def exit_status(code: object) -> int:
    """SystemExit's code as a status: None is 0, a message is printed and is 1."""
    if code is None:
        return OK
    if isinstance(code, int):
        return code
    render.error(str(code))
    return FAILED


def run_line(line: str, invoke: Invoke, refused: frozenset[str]) -> int:
    """Run one line; returns its exit status. Raises Leave for `exit`."""
    try:
        argv = shlex.split(line, comments=True)  # `# …` is a comment, as in sh
    except ValueError as exc:
        render.error(f"cannot read that line: {exc}")
        return USAGE
    if argv[:1] == [PROG]:
        argv = argv[1:]  # a line pasted from a terminal: `cloudai workers`
    if not argv:
        return OK
    verb = suggest.without_globals(argv)
    word = verb[0] if verb else argv[0]
    if word in ("exit", "quit"):
        raise Leave(_exit_code(argv[1:]))
    if word == "help":
        given = argv[: len(argv) - len(verb)]  # global options before `help`
        argv = [*given, *verb[1:], "--help"]
        word = argv[len(given)]
    if word in refused and "--help" not in argv:
        render.error(refusal(word))
        return USAGE
    if word in (*_FORGETS_IDS, "context") or verb != argv:
        suggest.RECENT.forget()
    chosen = contexts.selected()  # a line's own `--context` is for that line only
    try:
        return _interrupted_newline(invoke(argv))
    except KeyboardInterrupt:  # between typer's own handlers: still only this command
        return _interrupted_newline(INTERRUPTED)
    except Exception as exc:  # a bug in one command must not end the shell
        render.error(f"{word}: unexpected {type(exc).__name__}: {exc}")
        return FAILED
    finally:
        contexts.select(chosen)


def refusal(word: str) -> str:
    if word == "shell":
        return "already in `cloudai shell`"
    return (
        f"`cloudai {word}` runs a long-lived process; start it from a terminal of its own, "
        "not inside `cloudai shell`"
    )


def _exit_code(args: list[str]) -> int:
    try:
        return int(args[0]) if args else OK
    except ValueError:
        return USAGE


def _interrupted_newline(status: int) -> int:
    if status == INTERRUPTED:
        sys.stderr.write("\n")  # the terminal echoed ^C; the prompt starts on a line of its own
        sys.stderr.flush()
    return status


def run_lines(lines: Iterable[str], invoke: Invoke, refused: frozenset[str]) -> int:
    """No terminal: run each line of `lines` in turn; the status is the last line's."""
    status = OK
    for line in lines:
        try:
            status = run_line(line, invoke, refused)
        except Leave as leave:
            return leave.code
    return status


def has_secret(line: str) -> bool:
    """Whether the line carries a password or token (it is not written to the history)."""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    return any(w == f or w.startswith(f"{f}=") for w in words for f in SECRET_FLAGS)


class PrivateHistory(FileHistory):
    """The shell's history file (0600), without lines that carry a secret; those stay in
    this session's memory only."""

    def store_string(self, string: str) -> None:
        if not has_secret(string):
            super().store_string(string)


def history() -> History:
    try:
        path = ensure_config_dir() / HISTORY_FILE
        path.touch(mode=0o600, exist_ok=True)
    except OSError as exc:
        render.warn(f"no shell history: {exc}")
        return InMemoryHistory()
    return PrivateHistory(str(path))


class LineCompleter(Completer):
    """prompt_toolkit's view of `suggest.complete`: the same command tree, choices and id
    callbacks as bash/zsh/fish completion."""

    def __init__(self, command: Any, excluded: frozenset[str]) -> None:
        self.command = command
        self.excluded = excluded

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        words, incomplete = suggest.split_line(text)
        typed = "" if not text or text[-1].isspace() else text.split()[-1]
        for value, meta in suggest.complete(self.command, words, incomplete, self.excluded):
            yield Completion(
                shlex.quote(value), start_position=-len(typed), display=value,
                display_meta=meta,
            )  # fmt: skip


def session(command: Any, excluded: frozenset[str]) -> PromptSession[str]:
    return PromptSession(
        history=history(),
        completer=ThreadedCompleter(LineCompleter(command, excluded)),  # ids may need the master
        complete_while_typing=False,  # TAB completes, as in bash: nothing pops up unasked
        auto_suggest=AutoSuggestFromHistory(),
    )


def banner() -> str:
    try:
        used = contexts.load_credentials()
        where = f"on {used.url}" + (f" (context {used.context})" if used.context else "")
    except CliError:
        where = "not logged in (`login` first)"
    return f"cloudai shell, {where}; `help` lists the commands, Ctrl-D or `exit` leaves"


def interactive(stdin: TextIO, stdout: TextIO) -> bool:
    try:
        return stdin.isatty() and stdout.isatty()
    except (AttributeError, ValueError):
        return False


def run(command: Any, refused: frozenset[str]) -> int:
    """The shell's loop; returns its exit status."""
    invoke = invoker(command)
    if not interactive(sys.stdin, sys.stdout):
        return run_lines(sys.stdin, invoke, refused)
    prompt = session(command, refused)
    render.info(banner())
    while True:
        try:
            run_line(prompt.prompt(PROMPT), invoke, refused)
        except KeyboardInterrupt:
            continue  # at the prompt: drops the line being typed; a command's is its own
        except EOFError:
            return OK
        except Leave as leave:
            return leave.code
