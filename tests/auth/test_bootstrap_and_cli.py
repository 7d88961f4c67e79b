"""The first administrator from a server-local code, and ``secops login/whoami/logout``."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from secops.auth import bootstrap, totp
from secops.cli import app as cli
from secops.core import client as api_client
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory
from tests.auth.conftest import API
from tests.factories.auth import TestUser, bearer, make_user, next_code

BOOTSTRAP = f"{API}/auth/bootstrap"
FIRST_ADMIN = {
    "username": "first-admin",
    "display_name": "First Admin",
    "password": "a long and private phrase",
}
runner = CliRunner()


@pytest.fixture
def server_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path) -> Path:
    """Point the CLI at the test database, data directory and a private credentials file."""
    monkeypatch.setenv("SECOPS_ENV", "test")
    monkeypatch.setenv("SECOPS_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("SECOPS_DATA_DIR", str(settings.data_dir))
    credentials = tmp_path / "cli" / "credentials.json"
    monkeypatch.setenv("SECOPS_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("SECOPS_API_KEY", raising=False)
    monkeypatch.delenv("SECOPS_URL", raising=False)
    return credentials


@pytest.fixture
def over_http(client: TestClient) -> Iterator[None]:
    """Send the CLI's HTTP requests to the in-process app."""
    previous = api_client.http_factory
    api_client.http_factory = lambda _url: client
    yield
    api_client.http_factory = previous


def test_a_fresh_install_has_no_usable_login(client: TestClient) -> None:
    for name in ("admin", "root", "secops", "administrator"):
        for password in ("admin", "password", "secops", "changeme"):
            body = {"username": name, "password": password + "-1234"}
            assert client.post(f"{API}/auth/login", json=body).status_code == 401


def test_cli_bootstrap_code_creates_the_first_admin_once(
    client: TestClient, clock: FrozenClock, server_env: Path
) -> None:
    result = runner.invoke(cli, ["admin", "bootstrap"])
    assert result.exit_code == 0, result.output
    code = re.search(r"Bootstrap code: (\S+)", result.output)
    assert code is not None
    response = client.post(BOOTSTRAP, json={**FIRST_ADMIN, "code": code.group(1)})
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert response.json()["enrolment_required"] is True
    started = client.post(f"{API}/auth/totp/start", headers=bearer(token)).json()
    confirm = {"code": totp.code_at(started["secret"], clock.now())}
    confirmed = client.post(f"{API}/auth/totp/confirm", json=confirm, headers=bearer(token))
    me = client.get(f"{API}/auth/me", headers=bearer(confirmed.json()["session"]["token"]))
    assert me.json()["roles"] == [{"role": "admin", "everywhere": True, "missions": []}]
    reuse = client.post(
        BOOTSTRAP, json={**FIRST_ADMIN, "username": "x-admin", "code": code.group(1)}
    )
    assert reuse.status_code == 401
    again = runner.invoke(cli, ["admin", "bootstrap"])
    assert again.exit_code != 0  # users exist: no more codes


def test_bootstrap_code_expires_after_15_minutes(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory
) -> None:
    with sessions.begin() as session:
        ticket = bootstrap.issue_code(session)
    clock.advance(minutes=15, seconds=1)
    response = client.post(BOOTSTRAP, json={**FIRST_ADMIN, "code": ticket.code})
    assert response.status_code == 401


def test_a_new_code_voids_the_previous_one(client: TestClient, sessions: SessionFactory) -> None:
    with sessions.begin() as session:
        old = bootstrap.issue_code(session)
        new = bootstrap.issue_code(session)
    assert client.post(BOOTSTRAP, json={**FIRST_ADMIN, "code": old.code}).status_code == 401
    assert client.post(BOOTSTRAP, json={**FIRST_ADMIN, "code": new.code}).status_code == 201


def test_a_weak_password_does_not_spend_the_code(
    client: TestClient, sessions: SessionFactory
) -> None:
    with sessions.begin() as session:
        ticket = bootstrap.issue_code(session)
    weak = {**FIRST_ADMIN, "password": "password1", "code": ticket.code}
    assert client.post(BOOTSTRAP, json=weak).status_code == 422
    assert client.post(BOOTSTRAP, json={**FIRST_ADMIN, "code": ticket.code}).status_code == 201


def test_cli_login_whoami_logout(
    client: TestClient, clock: FrozenClock, alice: TestUser, server_env: Path, over_http: None
) -> None:
    code = next_code(alice, clock)
    result = runner.invoke(
        cli,
        ["login", "--url", "http://testserver", "--username", alice.username],
        input=f"{alice.password}\n{code}\n",
    )
    assert result.exit_code == 0, result.output
    assert alice.password not in result.output
    assert code not in result.output
    assert stat.S_IMODE(os.stat(server_env).st_mode) == 0o600
    token = json.loads(server_env.read_text())["token"]
    assert token.startswith("secops_s_")
    assert token not in result.output
    whoami = runner.invoke(cli, ["whoami", "--json"])
    assert whoami.exit_code == 0, whoami.output
    assert json.loads(whoami.output)["username"] == "alice"
    logout = runner.invoke(cli, ["logout"])
    assert logout.exit_code == 0
    assert not server_env.exists()
    assert client.get(f"{API}/auth/me", headers=bearer(token)).status_code == 401


def test_cli_login_enrols_a_new_user(
    clock: FrozenClock,
    sessions: SessionFactory,
    server_env: Path,
    over_http: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with sessions.begin() as session:
        newcomer = make_user(session, username="newcomer", enrolled=False)
    # The person reads the secret off the screen; the test reads it off the API reply.
    shown: dict[str, str] = {}
    original_post = api_client.ApiClient.post

    def post(self: api_client.ApiClient, path: str, body: object = None) -> object:
        reply = original_post(self, path, body)
        if path.endswith("/totp/start"):
            shown["secret"] = reply["secret"]
        return reply

    answers = iter([newcomer.password, ""])

    def prompt(text: str, **_options: object) -> str:
        if text.startswith("Code from the app"):
            return totp.code_at(shown["secret"], clock.now())
        return next(answers)

    monkeypatch.setattr(api_client.ApiClient, "post", post)
    monkeypatch.setattr("typer.prompt", prompt)
    args = ["login", "--url", "http://testserver", "--username", "newcomer"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Recovery codes" in result.output
    assert shown["secret"] in result.output  # shown once, for manual entry
    whoami = runner.invoke(cli, ["whoami"])
    assert "enrolled" in whoami.output


def test_cli_login_with_a_wrong_password_fails_with_one_line(
    alice: TestUser, server_env: Path, over_http: None
) -> None:
    result = runner.invoke(
        cli,
        ["login", "--url", "http://testserver", "--username", alice.username],
        input="not the password\n123456\n",
    )
    assert result.exit_code != 0
    assert not server_env.exists()
    assert isinstance(result.exception, api_client.ApiError)
    assert result.exception.status == 401
