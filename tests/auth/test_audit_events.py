"""Each identity action leaves its OWASP-vocabulary event: who, what, when, where, request id."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlmodel import select

from secops.audit.models import AuditEvent
from secops.auth import throttle
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory
from tests.auth.conftest import API
from tests.factories.auth import TestUser, login_headers

Action = Callable[[TestClient, FrozenClock, TestUser, dict[str, str]], None]


def _login_ok(client: TestClient, clock: FrozenClock, user: TestUser, _: dict[str, str]) -> None:
    login_headers(client, clock, user)


def _login_bad(client: TestClient, _c: FrozenClock, user: TestUser, _h: dict[str, str]) -> None:
    client.post(f"{API}/auth/login", json={"username": user.username, "password": "wrong-one"})


def _lockout(client: TestClient, c: FrozenClock, user: TestUser, h: dict[str, str]) -> None:
    for _ in range(throttle.FREE_FAILURES + 2):
        _login_bad(client, c, user, h)


def _logout(client: TestClient, clock: FrozenClock, user: TestUser, _: dict[str, str]) -> None:
    client.post(f"{API}/auth/logout", headers=login_headers(client, clock, user))


def _password(client: TestClient, clock: FrozenClock, user: TestUser, _: dict[str, str]) -> None:
    body = {"current_password": user.password, "new_password": "another long phrase"}
    client.post(f"{API}/auth/password", json=body, headers=login_headers(client, clock, user))


def _forbidden(client: TestClient, clock: FrozenClock, user: TestUser, _: dict[str, str]) -> None:
    client.get(f"{API}/users", headers=login_headers(client, clock, user))


def _create(client: TestClient, _c: FrozenClock, _u: TestUser, admin: dict[str, str]) -> None:
    client.post(f"{API}/users", json={"username": "zoe", "display_name": "Zoe"}, headers=admin)


def _disable(client: TestClient, clock: FrozenClock, user: TestUser, admin: dict[str, str]) -> None:
    login_headers(client, clock, user)
    client.post(f"{API}/users/{user.id}/disable", headers=admin)


def _revoke(client: TestClient, clock: FrozenClock, user: TestUser, admin: dict[str, str]) -> None:
    login_headers(client, clock, user)
    client.post(f"{API}/users/{user.id}/sessions/revoke", headers=admin)


CASES: list[tuple[str, Action, set[tuple[str, str]]]] = [
    ("login", _login_ok, {("authn_login_success", "success"), ("session_created", "success")}),
    ("bad password", _login_bad, {("authn_login_fail", "failure")}),
    ("back-off", _lockout, {("authn_login_lock", "failure")}),
    ("logout", _logout, {("authn_token_revoked", "success")}),
    ("password change", _password, {("authn_password_change", "success")}),
    ("forbidden", _forbidden, {("authz_fail", "failure")}),
    ("create user", _create, {("user_created", "success"), ("user_reset_started", "success")}),
    ("disable", _disable, {("user_disabled", "success"), ("authn_token_revoked", "success")}),
    ("admin revoke", _revoke, {("authn_token_revoked", "success")}),
]


@pytest.mark.parametrize(
    ("action", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_action_records_its_events(
    client: TestClient,
    clock: FrozenClock,
    sessions: SessionFactory,
    alice: TestUser,
    admin_headers: dict[str, str],
    action: Action,
    expected: set[tuple[str, str]],
) -> None:
    with sessions.begin() as session:
        before = len(session.exec(select(AuditEvent)).all())
    with structlog.testing.capture_logs() as logged:
        action(client, clock, alice, admin_headers)
    with sessions.begin() as session:
        rows = session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()[before:]
    recorded = {(row.action, str(row.outcome)) for row in rows}
    assert expected <= recorded
    assert {name for name, _ in expected} <= {str(e["event"]) for e in logged}
    for row in rows:
        if (row.action, str(row.outcome)) in expected:
            assert row.request_id
            assert row.source_ip
            assert row.ts == clock.now()


def test_session_expiry_and_recovery_codes_are_events(
    client: TestClient,
    clock: FrozenClock,
    settings: Settings,
    alice: TestUser,
    audit_actions: Callable[[], list[tuple[str, str]]],
) -> None:
    headers = login_headers(client, clock, alice)
    clock.advance(seconds=settings.step_up_max_age_seconds - 1)
    codes = client.post(f"{API}/auth/recovery-codes", headers=headers).json()["recovery_codes"]
    body = {"username": alice.username, "password": alice.password, "recovery_code": codes[0]}
    client.post(f"{API}/auth/login", json=body)
    clock.advance(seconds=settings.session_idle_timeout_seconds + 1)
    client.get(f"{API}/auth/me", headers=headers)
    actions = audit_actions()
    for expected in (
        "authn_recovery_codes_regenerated",
        "authn_recovery_code_used",
        "session_expired",
    ):
        assert (expected, "success") in actions
