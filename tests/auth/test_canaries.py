"""No password, code, token or secret in a log line, audit row, stored row or error body.

Canary values go through every identity path. The sweep reads structlog's event dicts (before
any redaction), the JSON lines the real handler writes, every audit event, a dump of every table,
and every response body; a secret may appear only in the one response that hands it out.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text

from secops.auth import bootstrap, totp
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory, metadata
from secops.core.logging import configure_logging
from tests.auth.conftest import API
from tests.factories.auth import bearer

ADMIN_PASSWORD = "Canary-Pw-5ac1d-Zebra"
WRONG_PASSWORD = "Wrong-Canary-8b2e-Yak"
NEW_PASSWORD = "Next-Canary-9f3c-Gnu"
USER_PASSWORD = "User-Canary-7d4a-Elk"
RESET_PASSWORD = "Reset-Canary-6e5b-Owl"
HUGE_PASSWORD = "Huge-Canary-" + "q" * 200
FORGED_SESSION = "secops_s_CanaryForgedSessionToken0123456789abcdefgh"
FORGED_KEY = "secops_k_canaryid_CanaryForgedKeySecret0123456789_abcd"


@dataclass
class Sweep:
    """Everything secret that was used, and every response with what it may reveal."""

    secrets: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)  # six digits: matched as whole words
    responses: list[tuple[Response, set[str]]] = field(default_factory=list)

    def keep(self, response: Response, *, reveals: set[str] | None = None) -> Response:
        self.responses.append((response, reveals or set()))
        return response

    def leaks_in(self, blob: str, *, allowed: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
        found = [s for s in self.secrets - allowed if s in blob]
        found += [c for c in self.codes if re.search(rf"(?<![0-9A-Za-z]){c}(?![0-9A-Za-z])", blob)]
        return found


def _code(secret: str, clock: FrozenClock, sweep: Sweep) -> str:
    clock.advance(seconds=30)
    code = totp.code_at(secret, clock.now())
    sweep.codes.add(code)
    return code


def _post(client: TestClient, sweep: Sweep, path: str, body: Any = None, **kw: Any) -> Response:
    return sweep.keep(client.post(f"{API}{path}", json=body, **kw))


def _bootstrap_and_enrol(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, sweep: Sweep
) -> tuple[str, list[str]]:
    with sessions.begin() as session:
        ticket = bootstrap.issue_code(session)
    sweep.secrets |= {ticket.code, ticket.code.replace("-", ""), ADMIN_PASSWORD}
    first = {"code": ticket.code, "username": "first-admin", "display_name": "First Admin"}
    made = client.post(f"{API}/auth/bootstrap", json={**first, "password": ADMIN_PASSWORD})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    sweep.secrets.add(token)
    sweep.keep(made, reveals={token})
    started = client.post(f"{API}/auth/totp/start", headers=bearer(token))
    secret = started.json()["secret"]
    sweep.secrets.add(secret)
    sweep.keep(started, reveals={secret})
    confirm = {"code": _code(secret, clock, sweep)}
    confirmed = client.post(f"{API}/auth/totp/confirm", json=confirm, headers=bearer(token))
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    full = confirmed.json()["session"]["token"]
    sweep.secrets |= set(codes) | {c.replace("-", "") for c in codes} | {full}
    sweep.keep(confirmed, reveals=set(codes) | {full})
    return secret, codes


def _sign_in_paths(
    client: TestClient, clock: FrozenClock, sweep: Sweep, secret: str, codes: list[str]
) -> str:
    name = "first-admin"
    sweep.secrets |= {WRONG_PASSWORD, HUGE_PASSWORD, FORGED_SESSION, FORGED_KEY}
    for body in (
        {"username": name, "password": WRONG_PASSWORD},
        {"username": "nobody-here", "password": WRONG_PASSWORD},
        {"username": 'evil\r\n{"x":1}', "password": WRONG_PASSWORD},
        {"username": name, "password": ADMIN_PASSWORD, "totp_code": "999999"},
        {"username": name, "password": HUGE_PASSWORD},
        {"password": ADMIN_PASSWORD},
    ):
        _post(client, sweep, "/auth/login", body)
    by_code = {"username": name, "password": ADMIN_PASSWORD}
    for extra in ({"totp_code": _code(secret, clock, sweep)}, {"recovery_code": codes[0]}):
        response = client.post(f"{API}/auth/login", json={**by_code, **extra})
        sweep.secrets.add(response.json()["token"])
        sweep.keep(response, reveals={response.json()["token"]})
    for forged in (FORGED_SESSION, FORGED_KEY):
        sweep.keep(client.get(f"{API}/auth/me", headers=bearer(forged)))
    token = str(sweep.responses[-3][0].json()["token"])
    headers = bearer(token)
    _post(
        client,
        sweep,
        "/auth/reauth",
        {"password": WRONG_PASSWORD, "totp_code": "111111"},
        headers=headers,
    )
    reauth = client.post(
        f"{API}/auth/reauth",
        json={"password": ADMIN_PASSWORD, "totp_code": _code(secret, clock, sweep)},
        headers=headers,
    )
    fresh = reauth.json()["token"]
    sweep.secrets.add(fresh)
    sweep.keep(reauth, reveals={fresh})
    return fresh


def _account_paths(client: TestClient, clock: FrozenClock, sweep: Sweep, token: str) -> None:
    headers = bearer(token)
    sweep.secrets |= {NEW_PASSWORD, USER_PASSWORD, RESET_PASSWORD}
    for current in (WRONG_PASSWORD, ADMIN_PASSWORD):
        body = {"current_password": current, "new_password": NEW_PASSWORD}
        _post(client, sweep, "/auth/password", body, headers=headers)
    _post(
        client,
        sweep,
        "/auth/password",
        {"current_password": NEW_PASSWORD, "new_password": "short"},
        headers=headers,
    )
    created = client.post(
        f"{API}/users", json={"username": "vera", "display_name": "C"}, headers=headers
    )
    invitation = created.json()["invitation"]["token"]
    sweep.secrets.add(invitation)
    sweep.keep(created, reveals={invitation})
    _post(client, sweep, "/auth/redeem", {"token": invitation + "x", "password": USER_PASSWORD})
    redeemed = client.post(
        f"{API}/auth/redeem", json={"token": invitation, "password": USER_PASSWORD}
    )
    sweep.secrets.add(redeemed.json()["token"])
    sweep.keep(redeemed, reveals={redeemed.json()["token"]})
    user_id = created.json()["user"]["id"]
    reset = client.post(f"{API}/users/{user_id}/reset", json={}, headers=headers)
    reset_token = reset.json()["token"]
    sweep.secrets.add(reset_token)
    sweep.keep(reset, reveals={reset_token})
    redo = client.post(
        f"{API}/auth/redeem", json={"token": reset_token, "password": RESET_PASSWORD}
    )
    sweep.secrets.add(redo.json()["token"])
    sweep.keep(redo, reveals={redo.json()["token"]})
    regenerated = client.post(f"{API}/auth/recovery-codes", headers=headers)
    new_codes = regenerated.json()["recovery_codes"]
    sweep.secrets |= set(new_codes)
    sweep.keep(regenerated, reveals=set(new_codes))
    sweep.keep(client.get(f"{API}/auth/sessions", headers=headers))
    sweep.keep(client.get(f"{API}/users", headers=headers))
    _post(client, sweep, "/auth/logout", headers=headers)


def _run_every_path(client: TestClient, clock: FrozenClock, sessions: SessionFactory) -> Sweep:
    sweep = Sweep()
    secret, codes = _bootstrap_and_enrol(client, clock, sessions, sweep)
    token = _sign_in_paths(client, clock, sweep, secret, codes)
    _account_paths(client, clock, sweep, token)
    return sweep


def _database_dump(sessions: SessionFactory) -> str:
    chunks = []
    with sessions.begin() as session:
        for table in metadata.sorted_tables:
            rows = session.execute(text(f'SELECT * FROM "{table.name}"')).all()
            chunks.append(repr(rows))
            chunks.append(json.dumps([list(map(str, r)) for r in rows]))
    return "\n".join(chunks)


def _assert_no_leaks(sweep: Sweep, log_text: str, sessions: SessionFactory) -> None:
    assert sweep.leaks_in(log_text) == []
    assert sweep.leaks_in(_database_dump(sessions)) == []
    for response, reveals in sweep.responses:
        assert sweep.leaks_in(response.text, allowed=reveals) == [], response.request.url
        # The detector works: what a response hands out is found in it.
        assert all(secret in response.text for secret in reveals)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(fmt="json", level="debug", stream=stream)
    yield stream
    configure_logging(fmt="json", level="info")


def test_event_dicts_carry_no_secret(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory
) -> None:
    with structlog.testing.capture_logs() as events:
        sweep = _run_every_path(client, clock, sessions)
    assert len(sweep.responses) > 25
    assert any(e["event"] == "authn_login_fail" for e in events)
    _assert_no_leaks(sweep, json.dumps(events, default=str), sessions)


def test_json_log_lines_carry_no_secret_and_stay_one_line_each(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, json_log: io.StringIO
) -> None:
    sweep = _run_every_path(client, clock, sessions)
    lines = json_log.getvalue().splitlines()
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(p["event"] == "authn_login_success" for p in parsed)
    _assert_no_leaks(sweep, json_log.getvalue(), sessions)
