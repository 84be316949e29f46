"""The CLI's logins: named contexts in credentials.json, the current one, `--context`,
CLOUDAI_URL and CLOUDAI_TOKEN, and the old single-login file read as it was."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cloudai.cli import contexts
from cloudai.cli.client import DEFAULT_URL, CliError, NotLoggedIn
from cloudai.cli.contexts import Context, Credentials, load_credentials, save_credentials


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    directory = tmp_path / "cfg"
    monkeypatch.setenv("CLOUDAI_CONFIG_DIR", str(directory))
    return directory


def test_variables_override_the_stored_credentials(
    monkeypatch: pytest.MonkeyPatch, config: Path
) -> None:
    with pytest.raises(CliError, match="run `cloudai login` first"):
        load_credentials()
    monkeypatch.setenv("CLOUDAI_TOKEN", "api-token")
    assert load_credentials() == Credentials(DEFAULT_URL, "api-token")
    monkeypatch.setenv("CLOUDAI_URL", "http://m:9")
    assert load_credentials() == Credentials("http://m:9", "api-token")

    save_credentials(Credentials("http://stored:1", "stored-token"))
    assert load_credentials() == Credentials("http://m:9", "api-token")
    monkeypatch.delenv("CLOUDAI_URL")
    assert load_credentials() == Credentials("http://stored:1", "api-token", "stored:1")
    monkeypatch.delenv("CLOUDAI_TOKEN")
    assert load_credentials() == Credentials("http://stored:1", "stored-token", "stored:1")


def test_logins_are_named_contexts_and_the_last_one_is_current(config: Path) -> None:
    save_credentials(Credentials("http://a.example:8080", "ta"), user="ada@a")
    save_credentials(Credentials("https://b.example", "tb", "prod"), user="bob@b")
    stored = contexts.read()
    assert stored.current == "prod"
    assert stored.items == {
        "a.example:8080": Context("a.example:8080", "http://a.example:8080", "ta", "ada@a"),
        "prod": Context("prod", "https://b.example", "tb", "bob@b"),
    }
    assert load_credentials() == Credentials("https://b.example", "tb", "prod")
    # Logging in again to a master that has a context updates that context.
    save_credentials(Credentials("http://a.example:8080", "ta2"))
    assert sorted(contexts.read().items) == ["a.example:8080", "prod"]
    assert load_credentials() == Credentials("http://a.example:8080", "ta2", "a.example:8080")

    path = config / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.stat().st_mode) == 0o700


def test_use_remove_and_an_unknown_name(config: Path) -> None:
    save_credentials(Credentials("http://one:1", "t1", "one"))
    save_credentials(Credentials("http://two:2", "t2", "two"))
    assert contexts.use("one").url == "http://one:1"
    assert load_credentials().context == "one"
    with pytest.raises(contexts.UnknownContext, match=r"no context 'three' \(known: one, two\)"):
        contexts.use("three")
    assert contexts.remove("two") is False
    assert contexts.remove("one") is True
    assert contexts.read().items == {}
    with pytest.raises(NotLoggedIn, match="run `cloudai login` first"):
        load_credentials()
    with pytest.raises(contexts.UnknownContext):
        contexts.remove("one")


def test_a_selected_context_wins_over_the_current_one_and_the_variables(
    monkeypatch: pytest.MonkeyPatch, config: Path
) -> None:
    save_credentials(Credentials("http://one:1", "t1", "one"))
    save_credentials(Credentials("http://two:2", "t2", "two"))
    monkeypatch.setenv("CLOUDAI_URL", "http://env:3")
    monkeypatch.setenv("CLOUDAI_TOKEN", "env-token")
    contexts.select("one")
    assert load_credentials() == Credentials("http://one:1", "t1", "one")
    contexts.select("nope")
    with pytest.raises(contexts.UnknownContext):
        load_credentials()
    contexts.select(None)
    assert load_credentials() == Credentials("http://env:3", "env-token")
    assert contexts.read().current == "two"  # selecting changes nothing stored


def test_logout_keeps_the_context_without_its_token(config: Path) -> None:
    save_credentials(Credentials("http://one:1", "t1", "one"))
    contexts.forget_token("one")
    assert contexts.read().items["one"] == Context("one", "http://one:1", None, "")
    with pytest.raises(NotLoggedIn, match="logged out of context 'one'"):
        load_credentials()
    assert "t1" not in (config / "credentials.json").read_text()


def test_an_old_single_login_file_is_read_and_migrated_on_the_next_change(config: Path) -> None:
    config.mkdir(mode=0o700)
    old = config / "credentials.json"
    old.write_text(json.dumps({"url": "http://old.example:8080", "access_token": "old-t"}))
    old.chmod(0o600)
    assert load_credentials() == Credentials("http://old.example:8080", "old-t", "old.example:8080")
    assert json.loads(old.read_text()) == {  # reading leaves the file as it was
        "url": "http://old.example:8080", "access_token": "old-t",
    }  # fmt: skip

    save_credentials(Credentials("http://new:1", "new-t", "new"))
    migrated = json.loads(old.read_text())
    assert migrated["current"] == "new"
    assert migrated["contexts"]["old.example:8080"] == {
        "url": "http://old.example:8080", "access_token": "old-t", "user": "",
    }  # fmt: skip
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert contexts.use("old.example:8080").access_token == "old-t"


@pytest.mark.parametrize("content", ["{not json", "[]", '{"contexts": {"x": {}}}', '{"url": 1}'])
def test_an_unreadable_file_says_log_in_again(config: Path, content: str) -> None:
    config.mkdir(mode=0o700)
    (config / "credentials.json").write_text(content)
    with pytest.raises(NotLoggedIn, match="run `cloudai login` again"):
        load_credentials()
    save_credentials(Credentials("http://new:1", "t", "new"))  # a login replaces it
    assert load_credentials() == Credentials("http://new:1", "t", "new")


@pytest.mark.parametrize("name", ["prod", "ci.example:8443", "ada@prod", "eu/west-1"])
def test_context_names(name: str) -> None:
    assert contexts.check_name(name) == name


@pytest.mark.parametrize("name", ["", " x", "a b", "-x", "x" * 101])
def test_bad_context_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a context name"):
        contexts.check_name(name)
