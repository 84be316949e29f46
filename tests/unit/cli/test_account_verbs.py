"""`login` into named contexts, `context list|use|remove`, `--context`, `logout`, and
`tokens create|list|revoke`, run in-process against a stand-in master."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cloudai import entry
from cloudai.cli import contexts
from tests.unit.cli.fake_master import FakeMaster, running

ADA = {"email": "ada@example.test", "role": "user"}


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    with running() as fake:
        fake.answer("POST", "/api/auth/login", {"access_token": "login-token", "user": ADA})
        fake.answer("GET", "/api/auth/me", ADA)
        fake.answer("POST", "/api/auth/logout", {"success": True})
        yield fake


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CLOUDAI_CONFIG_DIR", str(tmp_path / "cfg"))
    return tmp_path / "cfg"


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    contexts.select(None)  # each command line is a process of its own
    return CliRunner().invoke(entry.build(), list(args), env=env)


def login(master: FakeMaster, *extra: str) -> Result:
    result = cli("login", master.url, "--email", "ada@example.test", "--password", "pw", *extra)
    assert result.exit_code == 0, result.output
    return result


def test_login_makes_a_current_context_named_after_the_master(
    master: FakeMaster, config: Path
) -> None:
    said = login(master)
    name = master.url.removeprefix("http://")
    assert f"context {name} (current)" in said.stdout
    assert master.asked("POST", "/api/auth/login")[0].body == {
        "email": "ada@example.test", "password": "pw",
    }  # fmt: skip
    stored = json.loads((config / "credentials.json").read_text())
    assert stored["current"] == name
    assert stored["contexts"][name] == {
        "url": master.url, "access_token": "login-token", "user": "ada@example.test",
    }  # fmt: skip


def test_contexts_are_listed_used_selected_and_removed(master: FakeMaster, config: Path) -> None:
    login(master, "--context", "one")
    master.answer("POST", "/api/auth/login", {"access_token": "second-token", "user": ADA})
    login(master, "--context", "two")

    listed = cli("context", "list")
    assert listed.exit_code == 0, listed.output
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert rows == [["one", master.url, "ada@example.test", "yes"],
                    ["*", "two", master.url, "ada@example.test", "yes"]]  # fmt: skip
    doc = json.loads(cli("context", "list", "--output", "json").stdout)
    assert doc["current"] == "two" and "token" not in json.dumps(doc)

    assert cli("whoami").exit_code == 0
    assert master.asked("GET", "/api/auth/me")[-1].authorization == "Bearer second-token"
    chosen = cli("--context", "one", "whoami")
    assert chosen.exit_code == 0 and "(context one)" in chosen.stdout
    assert master.asked("GET", "/api/auth/me")[-1].authorization == "Bearer login-token"
    assert cli("--context", "one", "whoami", env={"CLOUDAI_TOKEN": "env"}).exit_code == 0
    assert master.asked("GET", "/api/auth/me")[-1].authorization == "Bearer login-token"

    used = cli("context", "use", "one")
    assert used.exit_code == 0 and f"current context: one ({master.url})" in used.stdout
    unknown = cli("context", "use", "three")
    assert unknown.exit_code == 3 and "no context 'three'" in unknown.stderr
    assert cli("--context", "three", "whoami").exit_code == 3

    removed = cli("context", "remove", "one")
    assert removed.exit_code == 0 and "no context is current now" in removed.stdout
    lost = cli("whoami")
    assert lost.exit_code == 4 and "run `cloudai login` first" in lost.stderr
    assert cli("context", "use", "two").exit_code == 0
    assert cli("whoami").exit_code == 0


def test_login_again_goes_to_the_context_of_that_master(master: FakeMaster, config: Path) -> None:
    login(master, "--context", "prod")
    cli("context", "use", "prod")
    again = cli("login", "--email", "ada@example.test", "--password", "pw")  # no URL: prod's
    assert again.exit_code == 0, again.output
    assert "context prod (current)" in again.stdout
    assert sorted(json.loads((config / "credentials.json").read_text())["contexts"]) == ["prod"]


def test_login_usage_errors(master: FakeMaster, config: Path) -> None:
    bad = cli("login", master.url, "--url", "http://else:1", "--email", "a@b", "--password", "x")
    assert bad.exit_code == 2 and "give the master's URL once" in bad.output
    name = cli("login", master.url, "--context", "a b", "--email", "a@b", "--password", "x")
    assert name.exit_code == 2 and "not a context name" in name.output
    assert not (config / "credentials.json").exists()


def test_logout_forgets_the_token_but_keeps_the_context(master: FakeMaster, config: Path) -> None:
    login(master, "--context", "prod")
    out = cli("logout")
    assert out.exit_code == 0 and "logged out of context 'prod'" in out.stderr
    assert len(master.asked("POST", "/api/auth/logout")) == 1
    assert "login-token" not in (config / "credentials.json").read_text()
    after = cli("whoami")
    assert after.exit_code == 4 and "logged out of context 'prod'" in after.stderr
    assert "logged out" in cli("context", "list").stdout


TOKENS = {"tokens": [
    {"token_id": "tok-aa11", "name": "ci", "created_at": "2026-12-01T10:00:00Z",
     "expires_at": None, "last_used_at": None},
    {"token_id": "tok-aa22", "name": "nightly", "created_at": "2026-12-02T10:00:00Z",
     "expires_at": "2027-03-02T10:00:00Z", "last_used_at": "2026-12-03T09:00:00Z"},
]}  # fmt: skip


def test_tokens_create_prints_the_token_alone(master: FakeMaster, config: Path) -> None:
    login(master)
    made = {
        "token_id": "tok-bb33",
        "name": "ci",
        "created_at": "2026-12-03T10:00:00Z",
        "expires_at": "2027-02-25T10:00:00Z",
        "last_used_at": None,
        "token": "cai_secret",
    }
    master.answer("POST", "/api/auth/tokens", made, status=201)  # fmt: skip
    created = cli("tokens", "create", "ci", "--expires", "12w")
    assert created.exit_code == 0, created.output
    assert created.stdout == "cai_secret\n"  # T=$(cloudai tokens create ci) is the token
    assert "tok-bb33" in created.stderr and "shown this once" in created.stderr
    assert master.asked("POST", "/api/auth/tokens")[0].body == {
        "name": "ci", "expires_in_days": 84,
    }  # fmt: skip
    forever = cli("tokens", "create", "ci")
    assert forever.exit_code == 0
    assert master.asked("POST", "/api/auth/tokens")[1].body["expires_in_days"] is None
    as_json = json.loads(cli("tokens", "create", "ci", "--output", "json").stdout)
    assert as_json["token"] == "cai_secret"
    for bad in ("0", "soon", "11y"):
        refused = cli("tokens", "create", "ci", "--expires", bad)
        assert refused.exit_code == 2, (bad, refused.output)
    master.answer("POST", "/api/auth/tokens", {"error": "forbidden", "detail": "no"}, 403)
    assert cli("tokens", "create", "ci").exit_code == 4


def test_tokens_list_and_revoke_by_prefix(master: FakeMaster, config: Path) -> None:
    login(master)
    master.answer("GET", "/api/auth/tokens", TOKENS)
    master.answer("DELETE", "/api/auth/tokens/tok-aa22", None, status=204)
    listed = cli("tokens", "list")
    assert listed.exit_code == 0
    assert [line.split()[:2] for line in listed.stdout.splitlines()[1:]] == [
        ["tok-aa11", "ci"], ["tok-aa22", "nightly"],
    ]  # fmt: skip
    assert json.loads(cli("tokens", "list", "--output", "json").stdout) == TOKENS

    revoked = cli("tokens", "revoke", "tok-aa2")
    assert revoked.exit_code == 0 and revoked.stdout == "revoked tok-aa22\n"
    assert len(master.asked("DELETE", "/api/auth/tokens/tok-aa22")) == 1
    ambiguous = cli("tokens", "revoke", "tok-aa")
    assert ambiguous.exit_code == 2
    assert "tok-aa11" in ambiguous.stderr and "tok-aa22" in ambiguous.stderr
    assert cli("tokens", "revoke", "tok-zz").exit_code == 3
