"""API key → 15-minute token: same scope as the key, short-lived, ends with the key, audited."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from structlog.testing import capture_logs

from secops.audit.models import AuditEvent
from secops.auth.access import exchange
from secops.auth.access import service as access_service
from secops.auth.access.models import ApiKey, ApiKeyToken
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Permission, Role
from tests.auth.access.conftest import Ministry
from tests.factories.access import disable_user, make_grant, make_key, person
from tests.factories.auth import grant, login_headers
from tests.factories.auth import make_user as make_person

API = "/api/v1"
TOKENS = f"{API}/tokens"
READ = [Permission.MISSIONS_READ, Permission.ACCOUNTS_READ]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def officer_key(ministry: Ministry, sessions: SessionFactory) -> tuple[ApiKey, str]:
    """Alice is officer on A and on B; her key reads missions and accounts on A only."""
    with sessions.begin() as s:
        make_grant(s, ministry.alice, Role.OFFICER, ministry.a)
        make_grant(s, ministry.alice, Role.OFFICER, ministry.b)
        return make_key(s, ministry.alice, READ, [ministry.a], days=7)


def _exchange(client: TestClient, key_token: str) -> dict[str, Any]:
    response = client.post(TOKENS, headers=bearer(key_token))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_key_buys_a_fifteen_minute_bearer_token(
    client: TestClient, clock: FrozenClock, officer_key: tuple[ApiKey, str]
) -> None:
    issued = _exchange(client, officer_key[1])

    assert issued["token"].startswith("secops_t_")
    assert len(issued["token"]) == len("secops_t_") + 43
    assert issued["token_type"] == "bearer"
    assert issued["expires_in"] == 15 * 60
    assert issued["expires_at"].startswith((clock.now() + timedelta(minutes=15)).isoformat()[:19])


def test_the_token_acts_with_the_keys_scope_and_no_more(
    client: TestClient, ministry: Ministry, officer_key: tuple[ApiKey, str]
) -> None:
    token = bearer(_exchange(client, officer_key[1])["token"])

    assert client.get(f"{API}/missions/{ministry.a.id}", headers=token).status_code == 200
    # The owner is officer on B too, but the key names only A: B is "not found".
    assert client.get(f"{API}/missions/{ministry.b.id}", headers=token).status_code == 404
    listed = client.get(f"{API}/missions", headers=token).json()["items"]
    assert [m["code"] for m in listed] == ["EMB-A"]
    # accounts:write is the owner's but not the key's.
    body = {
        "platform": "x",
        "handle": "via_token",
        "mission_id": str(ministry.a.id),
        "tier": "mission",
        "kind": "institutional",
    }
    assert client.post(f"{API}/accounts", json=body, headers=token).status_code == 403


def test_a_token_of_a_key_that_may_write_writes_as_the_key(
    client: TestClient, ministry: Ministry, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        make_grant(s, ministry.alice, Role.OFFICER, ministry.a)
        key, key_token = make_key(
            s, ministry.alice, [Permission.ACCOUNTS_READ, Permission.ACCOUNTS_WRITE], [ministry.a]
        )
    token = bearer(_exchange(client, key_token)["token"])
    body = {
        "platform": "x",
        "handle": "written_with_a_token",
        "mission_id": str(ministry.a.id),
        "tier": "mission",
        "kind": "institutional",
    }

    assert client.post(f"{API}/accounts", json=body, headers=token).status_code == 201
    with sessions.begin() as s:
        created = s.exec(select(AuditEvent).where(AuditEvent.object_type == "account")).one()
    assert created.actor == f"api_key:alice/{key.public_id}"


def test_the_token_expires_after_fifteen_minutes(
    client: TestClient, clock: FrozenClock, ministry: Ministry, officer_key: tuple[ApiKey, str]
) -> None:
    token = bearer(_exchange(client, officer_key[1])["token"])
    mission = f"{API}/missions/{ministry.a.id}"

    clock.advance(timedelta(minutes=15) - timedelta(seconds=1))
    assert client.get(mission, headers=token).status_code == 200
    clock.advance(seconds=1)
    refused = client.get(mission, headers=token)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    # The key itself still works and can buy a new one.
    assert client.get(mission, headers=bearer(officer_key[1])).status_code == 200
    renewed = bearer(_exchange(client, officer_key[1])["token"])
    assert client.get(mission, headers=renewed).status_code == 200


def test_revoking_the_key_ends_its_tokens_at_once(
    client: TestClient,
    ministry: Ministry,
    sessions: SessionFactory,
    officer_key: tuple[ApiKey, str],
) -> None:
    key, key_token = officer_key
    token = bearer(_exchange(client, key_token)["token"])
    mission = f"{API}/missions/{ministry.a.id}"
    assert client.get(mission, headers=token).status_code == 200

    with sessions.begin() as s:
        access_service.revoke_api_key(s, principal=person(s, ministry.alice), key_id=key.id)

    assert client.get(mission, headers=token).status_code == 401
    assert client.post(TOKENS, headers=bearer(key_token)).status_code == 401


def test_disabling_the_owner_or_revoking_the_grant_reaches_the_token(
    client: TestClient,
    ministry: Ministry,
    sessions: SessionFactory,
    officer_key: tuple[ApiKey, str],
) -> None:
    token = bearer(_exchange(client, officer_key[1])["token"])
    mission = f"{API}/missions/{ministry.a.id}"
    with sessions.begin() as s:
        root = person(s, ministry.root)
        on_a = next(
            g
            for g in access_service.list_grants(s, principal=root, user_id=ministry.alice.id)
            if g.mission_id == ministry.a.id
        )
        access_service.revoke_grant(s, principal=root, grant_id=on_a.id)
    assert client.get(mission, headers=token).status_code == 403  # no role left on A

    with sessions.begin() as s:
        disable_user(s, ministry.alice)
    assert client.get(mission, headers=token).status_code == 401


def test_a_token_never_outlives_its_key(
    client: TestClient, clock: FrozenClock, ministry: Ministry, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        make_grant(s, ministry.alice, Role.OFFICER, ministry.a)
        _, key_token = make_key(s, ministry.alice, READ, days=1)
    clock.advance(timedelta(days=1) - timedelta(minutes=5))

    issued = _exchange(client, key_token)

    assert issued["expires_in"] == 5 * 60
    clock.advance(minutes=5)
    mission = f"{API}/missions/{ministry.a.id}"
    assert client.get(mission, headers=bearer(issued["token"])).status_code == 401


def test_only_the_key_itself_can_be_exchanged(
    client: TestClient,
    clock: FrozenClock,
    sessions: SessionFactory,
    officer_key: tuple[ApiKey, str],
) -> None:
    token = _exchange(client, officer_key[1])["token"]
    # A token cannot buy another token: its lifetime would have no end.
    assert client.post(TOKENS, headers=bearer(token)).status_code == 403
    # People sign in instead.
    with sessions.begin() as s:
        admin = make_person(s, username="an-admin")
        grant(s, admin, Role.ADMIN)
    headers = login_headers(client, clock, admin)
    assert client.post(TOKENS, headers=headers).status_code == 403
    assert client.post(TOKENS).status_code == 401


def test_tokens_are_refused_on_routes_for_people(
    client: TestClient, officer_key: tuple[ApiKey, str]
) -> None:
    token = bearer(_exchange(client, officer_key[1])["token"])

    assert client.get(f"{API}/auth/me", headers=token).status_code == 403
    assert client.post(f"{API}/auth/logout", headers=token).status_code == 403
    assert client.get(f"{API}/apikeys", headers=token).status_code == 403


def test_only_the_token_hash_is_stored_and_the_exchange_is_audited(
    client: TestClient, sessions: SessionFactory, officer_key: tuple[ApiKey, str]
) -> None:
    key, key_token = officer_key
    with capture_logs() as logs:
        token = _exchange(client, key_token)["token"]

    with sessions.begin() as s:
        (stored,) = s.exec(select(ApiKeyToken)).all()
        dump = repr(stored.model_dump())
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "apikey_token_issued")).all()
    assert stored.token_hash == hashlib.sha256(token.encode()).digest()
    assert stored.key_id == key.id
    assert token not in dump
    (event,) = events
    assert event.object_id == str(key.id)
    assert event.actor == f"api_key:alice/{key.public_id}"
    assert event.details["exchange_id"] == str(stored.id)
    assert token not in json.dumps(event.details)
    assert token.removeprefix("secops_t_") not in repr(logs)


def test_a_key_holds_a_bounded_number_of_live_tokens(
    client: TestClient, clock: FrozenClock, officer_key: tuple[ApiKey, str]
) -> None:
    for _ in range(exchange.MAX_LIVE_TOKENS):
        _exchange(client, officer_key[1])
    clock.advance(minutes=5)

    refused = client.post(TOKENS, headers=bearer(officer_key[1]))

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(10 * 60)
    clock.advance(minutes=10)
    assert _exchange(client, officer_key[1])["expires_in"] == 15 * 60
