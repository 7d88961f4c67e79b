"""``secops users``, ``secops grants`` and ``secops apikeys`` over HTTP with a real sign-in."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import secops.core.client
from secops.auth.access import service as access_service
from secops.cli import app as cli_app
from secops.cli import main
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Role
from secops.missions.models import MissionKind
from tests.factories.auth import TestUser, grant, login, make_user
from tests.factories.missions import make_mission


@pytest.fixture
def admin(sessions: SessionFactory) -> TestUser:
    """A ministry-wide admin; missions HQ, EMB-A and EMB-B exist."""
    with sessions.begin() as s:
        hq = make_mission(s, "HQ", kind=MissionKind.HQ)
        make_mission(s, "EMB-A", parent=hq)
        make_mission(s, "EMB-B", parent=hq)
        user = make_user(s, username="root-admin")
        grant(s, user, Role.ADMIN)
        make_user(s, username="alice")
    return user


@pytest.fixture
def cli(
    client: TestClient,
    clock: FrozenClock,
    admin: TestUser,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> CliRunner:
    """A runner whose HTTP calls reach the test app with the admin's real session token."""
    monkeypatch.setattr(secops.core.client, "http_factory", lambda _url: client)
    monkeypatch.setenv("SECOPS_API_KEY", str(login(client, clock, admin)["token"]))
    monkeypatch.setenv("SECOPS_CREDENTIALS_FILE", str(tmp_path / "absent.json"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli_app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_grant_list_and_revoke_a_role_by_username_and_code(
    cli: CliRunner, sessions: SessionFactory
) -> None:
    added = json.loads(
        _ok(cli, "grants", "add", "alice", "officer", "--mission", "EMB-A", "--json")
    )
    listed = _ok(cli, "grants", "list", "alice")
    assert "EMB-A" in listed
    assert "officer" in listed
    assert "revoked grant" in _ok(cli, "grants", "revoke", added["id"])
    with sessions.begin() as s:
        assert access_service.roles_for_user(s, user_id=uuid.UUID(added["user_id"])) == {}


def test_ministry_wide_grant_and_exactly_one_scope_option(
    cli: CliRunner,
) -> None:
    output = _ok(cli, "grants", "add", "alice", "auditor", "--ministry")
    assert "granted auditor to alice" in output
    assert "(whole ministry)" in _ok(cli, "grants", "list", "alice")
    both = cli.invoke(cli_app, ["grants", "add", "alice", "officer"])
    assert both.exit_code != 0


def test_apikey_create_use_list_and_revoke(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    created = json.loads(
        _ok(
            cli,
            "apikeys",
            "create",
            "--name",
            "export",
            "--permission",
            "missions:read",
            "--mission",
            "EMB-A",
            "--days",
            "10",
            "--json",
        )
    )
    token = created["token"]
    assert token.startswith("secops_k_")
    listed = _ok(cli, "apikeys", "list")
    assert created["public_id"] in listed
    assert token not in listed
    with monkeypatch.context() as as_key:
        as_key.setenv("SECOPS_API_KEY", token)
        missions = json.loads(_ok(cli, "missions", "list", "--json"))
        assert [m["code"] for m in missions] == ["EMB-A"]
    assert "revoked key" in _ok(cli, "apikeys", "revoke", created["id"])
    assert created["public_id"] not in _ok(cli, "apikeys", "list")


def test_a_key_cannot_mint_keys_from_the_cli(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    created = json.loads(
        _ok(cli, "apikeys", "create", "--name", "k", "--permission", "missions:read", "--json")
    )
    monkeypatch.setenv("SECOPS_API_KEY", created["token"])
    argv = ["secops", "apikeys", "create", "--name", "k2", "--permission", "missions:read"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: API keys cannot be used here")
    assert err.count("\n") == 1


def test_users_create_list_and_disable(cli: CliRunner) -> None:
    created = _ok(cli, "users", "create", "bob", "--display-name", "Bob Martin")
    assert "Invitation token (shown once):" in created
    users = json.loads(_ok(cli, "users", "list", "--json"))
    assert {"alice", "bob", "root-admin"} <= {u["username"] for u in users}
    assert "disabled bob" in _ok(cli, "users", "disable", "bob")
    bob = next(u for u in json.loads(_ok(cli, "users", "list", "--json")) if u["username"] == "bob")
    assert bob["status"] == "disabled"


def test_unknown_user_is_one_readable_error(cli: CliRunner) -> None:
    result = cli.invoke(cli_app, ["grants", "list", "nobody"])
    assert result.exit_code != 0
