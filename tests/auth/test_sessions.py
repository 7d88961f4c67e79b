"""Sessions: opaque hashed tokens, every ending event, idle and absolute timeouts, own sessions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from secops.auth import tokens
from secops.auth.access import service as access_service
from secops.auth.models import UserSession
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.principal import Role, system_principal
from tests.auth.conftest import API
from tests.factories.auth import TestUser, bearer, grant, login, login_headers

ME = f"{API}/auth/me"


def test_tokens_are_256_bit_unique_and_prefixed() -> None:
    issued = {tokens.new_session_token() for _ in range(10_000)}
    assert len(issued) == 10_000
    assert all(t.startswith("secops_s_") and len(t) == len("secops_s_") + 43 for t in issued)


def test_database_keeps_only_the_token_hash(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, alice: TestUser
) -> None:
    token = str(login(client, clock, alice)["token"])
    with sessions.begin() as session:
        rows = session.exec(select(UserSession)).all()
        assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).digest()]
        dump = repr([row.model_dump() for row in rows])
    assert token not in dump
    assert token.removeprefix("secops_s_") not in dump


def test_token_in_the_url_is_ignored(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    token = str(login(client, clock, alice)["token"])
    for params in ({"token": token}, {"access_token": token}, {"authorization": f"Bearer {token}"}):
        assert client.get(ME, params=params).status_code == 401
    assert client.get(ME, headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer secops_x_abc", "secops_s_abc"])
def test_malformed_credentials_are_401(client: TestClient, header: str) -> None:
    response = client.get(ME, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_logout_ends_the_session(client: TestClient, clock: FrozenClock, alice: TestUser) -> None:
    headers = login_headers(client, clock, alice)
    assert client.post(f"{API}/auth/logout", headers=headers).status_code == 204
    assert client.get(ME, headers=headers).status_code == 401


def test_password_change_ends_the_other_sessions(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    first = login_headers(client, clock, alice)
    second = login_headers(client, clock, alice)
    body = {"current_password": alice.password, "new_password": "an entirely new phrase"}
    assert client.post(f"{API}/auth/password", json=body, headers=second).status_code == 204
    assert client.get(ME, headers=first).status_code == 401
    assert client.get(ME, headers=second).status_code == 200


def test_disabling_a_user_ends_their_sessions(
    client: TestClient, clock: FrozenClock, admin_headers: dict[str, str], alice: TestUser
) -> None:
    headers = login_headers(client, clock, alice)
    response = client.post(f"{API}/users/{alice.id}/disable", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["status"] == "disabled"
    assert client.get(ME, headers=headers).status_code == 401


def test_admin_revocation_ends_every_session(
    client: TestClient, clock: FrozenClock, admin_headers: dict[str, str], alice: TestUser
) -> None:
    headers = [login_headers(client, clock, alice) for _ in range(2)]
    response = client.post(f"{API}/users/{alice.id}/sessions/revoke", headers=admin_headers)
    assert response.json() == {"sessions_ended": 2}
    assert all(client.get(ME, headers=h).status_code == 401 for h in headers)


def test_idle_timeout_plus_one_second_ends_the_session(
    client: TestClient, clock: FrozenClock, settings: Settings, alice: TestUser
) -> None:
    headers = login_headers(client, clock, alice)
    clock.advance(seconds=settings.session_idle_timeout_seconds)
    assert client.get(ME, headers=headers).status_code == 200
    clock.advance(seconds=settings.session_idle_timeout_seconds + 1)
    response = client.get(ME, headers=headers)
    assert response.status_code == 401
    clock.advance(seconds=-settings.session_idle_timeout_seconds)
    assert client.get(ME, headers=headers).status_code == 401  # ended for good


def test_absolute_timeout_plus_one_second_ends_an_active_session(
    client: TestClient, clock: FrozenClock, settings: Settings, alice: TestUser
) -> None:
    headers = login_headers(client, clock, alice)
    step = settings.session_idle_timeout_seconds - 60
    elapsed = 0
    while elapsed + step < settings.session_absolute_timeout_seconds:
        clock.advance(seconds=step)
        elapsed += step
        assert client.get(ME, headers=headers).status_code == 200
    clock.advance(seconds=settings.session_absolute_timeout_seconds - elapsed + 1)
    assert client.get(ME, headers=headers).status_code == 401


def test_expiry_is_audited(
    client: TestClient,
    clock: FrozenClock,
    settings: Settings,
    alice: TestUser,
    audit_actions: Callable[[], list[tuple[str, str]]],
) -> None:
    headers = login_headers(client, clock, alice)
    clock.advance(seconds=settings.session_idle_timeout_seconds + 1)
    client.get(ME, headers=headers)
    assert ("session_expired", "success") in audit_actions()


def test_last_seen_is_written_at_most_once_a_minute(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, alice: TestUser
) -> None:
    headers = login_headers(client, clock, alice)
    start = clock.now()
    clock.advance(seconds=30)
    client.get(ME, headers=headers)
    with sessions.begin() as session:
        assert session.exec(select(UserSession)).one().last_seen_at == start
    clock.advance(seconds=30)
    client.get(ME, headers=headers)
    with sessions.begin() as session:
        assert session.exec(select(UserSession)).one().last_seen_at == clock.now()


def test_users_list_and_end_their_own_sessions(
    client: TestClient, clock: FrozenClock, alice: TestUser, admin: TestUser
) -> None:
    current = login_headers(client, clock, alice)
    other = login(client, clock, alice)
    admins = login_headers(client, clock, admin)
    listed = client.get(f"{API}/auth/sessions", headers=current).json()["items"]
    assert len(listed) == 2
    assert sum(item["current"] for item in listed) == 1
    other_id = other["session_id"]
    # Someone else's session is "not found", exactly like a random id.
    assert client.delete(f"{API}/auth/sessions/{other_id}", headers=admins).status_code == 404
    assert client.delete(f"{API}/auth/sessions/{other_id}", headers=current).status_code == 204
    assert client.get(ME, headers=bearer(str(other["token"]))).status_code == 401
    assert client.delete(f"{API}/auth/sessions/{other_id}", headers=current).status_code == 404


def test_me_shows_roles_and_a_revoked_grant_applies_to_the_live_session(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, alice: TestUser
) -> None:
    with sessions.begin() as session:
        grant(session, alice, Role.AUDITOR)
    headers = login_headers(client, clock, alice)
    me = client.get(ME, headers=headers).json()
    assert me["roles"] == [{"role": "auditor", "everywhere": True, "missions": []}]
    assert client.get(f"{API}/users", headers=headers).status_code == 200
    with sessions.begin() as session:
        [held] = access_service.list_grants(session, principal=system_principal(), user_id=alice.id)
        access_service.revoke_grant(session, principal=system_principal(), grant_id=held.id)
    assert client.get(ME, headers=headers).json()["roles"] == []
    assert client.get(f"{API}/users", headers=headers).status_code == 403
