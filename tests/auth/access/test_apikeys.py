"""API keys: creation rules, the principal a key acts as, expiry, revocation and listing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select

from secops.audit.models import AuditEvent
from secops.auth.access import service as access_service
from secops.auth.access import tokens
from secops.auth.access.models import ApiKey
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.errors import Forbidden, StepUpRequired, Unauthenticated, ValidationFailed
from secops.core.principal import EVERYWHERE, Permission, Principal, PrincipalKind, Role
from tests.auth.access.conftest import Ministry
from tests.factories.access import disable_user, make_grant, make_key, person

API = "/api/v1"
AsUser = Callable[..., Principal]
READ = [Permission.MISSIONS_READ, Permission.ACCOUNTS_READ]


@pytest.fixture
def officer_on_a_and_b(ministry: Ministry, sessions: SessionFactory) -> Ministry:
    """Alice is officer on A and on B."""
    with sessions.begin() as s:
        make_grant(s, ministry.alice, Role.OFFICER, ministry.a)
        make_grant(s, ministry.alice, Role.OFFICER, ministry.b)
    return ministry


def test_key_acts_with_its_permissions_on_its_missions_only(
    officer_on_a_and_b: Ministry, sessions: SessionFactory
) -> None:
    m = officer_on_a_and_b
    with sessions.begin() as s:
        key, token = make_key(s, m.alice, READ, [m.a])
        principal = access_service.authenticate_api_key(s, token=token)
    assert principal.kind is PrincipalKind.API_KEY
    assert principal.id == m.alice.id
    assert principal.session_id == key.id
    assert principal.allowed == frozenset(READ)
    assert principal.roles == {Role.OFFICER: frozenset({m.a.id})}
    assert principal.can(Permission.ACCOUNTS_READ, m.a.id)
    assert not principal.can(Permission.ACCOUNTS_READ, m.b.id)
    assert not principal.has(Permission.ACCOUNTS_WRITE)
    assert principal.authenticated_at is None  # a key never passes a step-up check


def test_key_without_missions_follows_all_the_owners_missions(
    officer_on_a_and_b: Ministry, sessions: SessionFactory
) -> None:
    m = officer_on_a_and_b
    with sessions.begin() as s:
        _, token = make_key(s, m.alice, READ)
        principal = access_service.authenticate_api_key(s, token=token)
    assert principal.missions_with(Permission.ACCOUNTS_READ) == frozenset({m.a.id, m.b.id})


def test_ministry_wide_owner_is_narrowed_to_the_keys_missions(
    ministry: Ministry, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        _, token = make_key(s, ministry.root, READ, [ministry.b])
        principal = access_service.authenticate_api_key(s, token=token)
    assert principal.roles == {Role.ADMIN: frozenset({ministry.b.id})}


def test_revoking_the_owners_grant_empties_the_key_at_once(
    officer_on_a_and_b: Ministry, sessions: SessionFactory
) -> None:
    m = officer_on_a_and_b
    with sessions.begin() as s:
        _, token = make_key(s, m.alice, READ, [m.a])
        root = person(s, m.root)
        grants = access_service.list_grants(s, principal=root, user_id=m.alice.id)
        on_a = next(g for g in grants if g.mission_id == m.a.id)
        access_service.revoke_grant(s, principal=root, grant_id=on_a.id)
    with sessions.begin() as s:
        principal = access_service.authenticate_api_key(s, token=token)
    assert principal.roles == {}
    assert not principal.has(Permission.MISSIONS_READ)


@pytest.mark.parametrize("what", ["disabled owner", "expired", "revoked", "wrong secret"])
def test_dead_keys_are_refused_alike(
    what: str, officer_on_a_and_b: Ministry, sessions: SessionFactory, clock: FrozenClock
) -> None:
    m = officer_on_a_and_b
    with sessions.begin() as s:
        key, token = make_key(s, m.alice, READ, days=7)
    with sessions.begin() as s:
        if what == "disabled owner":
            disable_user(s, m.alice)
        elif what == "expired":
            clock.advance(days=7)
        elif what == "revoked":
            access_service.revoke_api_key(s, principal=person(s, m.alice), key_id=key.id)
        else:
            # A well-formed token naming this key, with someone else's secret.
            _, other = tokens.new_token()
            body = f"secops_k_{key.public_id}_{other.secret}"
            token = f"{body}_{tokens.checksum(body)}"
    with sessions.begin() as s, pytest.raises(Unauthenticated) as refused:
        access_service.authenticate_api_key(s, token=token)
    assert refused.value.detail == "The API key is not valid, has expired or was revoked."


def test_key_still_works_just_before_expiry(
    officer_on_a_and_b: Ministry, sessions: SessionFactory, clock: FrozenClock
) -> None:
    with sessions.begin() as s:
        _, token = make_key(s, officer_on_a_and_b.alice, READ, days=7)
    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    with sessions.begin() as s:
        assert access_service.authenticate_api_key(s, token=token).has(Permission.MISSIONS_READ)


def test_last_used_is_recorded_at_most_once_a_minute(
    officer_on_a_and_b: Ministry, sessions: SessionFactory, clock: FrozenClock
) -> None:
    with sessions.begin() as s:
        key, token = make_key(s, officer_on_a_and_b.alice, READ)
    first = clock.now()
    for step in (0, 30, 40):
        clock.advance(seconds=step)
        with sessions.begin() as s:
            access_service.authenticate_api_key(s, token=token)
    with sessions.begin() as s:
        stored = s.get(ApiKey, key.id)
        assert stored is not None
        assert stored.last_used_at == first + timedelta(seconds=70)


def test_only_the_secret_hash_is_stored(
    officer_on_a_and_b: Ministry, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        key, token = make_key(s, officer_on_a_and_b.alice, READ)
    secret = token.split("_", 3)[3][:43]
    with sessions.begin() as s:
        rows = s.execute(text("SELECT * FROM api_key")).all()
        events = s.exec(select(AuditEvent)).all()
    dump = repr(rows) + repr([e.details for e in events])
    assert key.public_id in dump
    assert secret not in dump
    assert token not in dump


def test_creating_a_key_needs_a_recent_sign_in(
    officer_on_a_and_b: Ministry, sessions: SessionFactory, clock: FrozenClock
) -> None:
    with sessions.begin() as s:
        stale = person(s, officer_on_a_and_b.alice, authenticated_at=clock.now())
    clock.advance(minutes=6)
    with sessions.begin() as s, pytest.raises(StepUpRequired):
        access_service.create_api_key(
            s, principal=stale, name="x", permissions=READ, mission_ids=None, days=1
        )


def test_a_key_cannot_delegate_what_its_owner_lacks(
    officer_on_a_and_b: Ministry, sessions: SessionFactory
) -> None:
    m = officer_on_a_and_b
    with sessions.begin() as s, pytest.raises(Forbidden):
        make_key(s, m.alice, [Permission.PLAYBOOKS_RUN], [m.a])
    with sessions.begin() as s, pytest.raises(Forbidden):
        make_key(s, m.alice, [Permission.USERS_ADMIN])


def test_a_key_cannot_mint_keys(officer_on_a_and_b: Ministry, sessions: SessionFactory) -> None:
    with sessions.begin() as s:
        _, token = make_key(s, officer_on_a_and_b.alice, READ)
        principal = access_service.authenticate_api_key(s, token=token)
        with pytest.raises(Forbidden):
            access_service.create_api_key(
                s, principal=principal, name="x", permissions=READ, mission_ids=None, days=1
            )


def test_key_lifetime_is_capped_by_the_setting(
    officer_on_a_and_b: Ministry, sessions: SessionFactory
) -> None:
    with sessions.begin() as s, pytest.raises(ValidationFailed):
        make_key(s, officer_on_a_and_b.alice, READ, days=91)


# --- through the API ------------------------------------------------------------------------


def _create(client: TestClient, **body: Any) -> Any:
    body.setdefault("name", "nightly export")
    body.setdefault("permissions", ["missions:read"])
    return client.post(f"{API}/apikeys", json=body)


def test_token_is_shown_once_at_creation(
    client: TestClient, officer_on_a_and_b: Ministry, as_user: AsUser
) -> None:
    m = officer_on_a_and_b
    as_user({Role.OFFICER: frozenset({m.a.id, m.b.id})}, user=m.alice)
    created = _create(client, missions=[str(m.a.id)], days=30)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["token"].startswith(f"secops_k_{body['public_id']}_")
    assert body["expires_at"].startswith("2026-02-14")
    listed = client.get(f"{API}/apikeys").json()["items"]
    assert [k["id"] for k in listed] == [body["id"]]
    assert "token" not in listed[0]
    assert body["token"] not in client.get(f"{API}/apikeys").text


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": []},
        {"permissions": ["users:admin"]},
        {"permissions": ["missions:root"]},
        {"days": 0},
        {"days": 91},
        {"name": ""},
        {"owner_id": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_bad_key_requests_are_422(
    body: dict[str, Any], client: TestClient, officer_on_a_and_b: Ministry, as_user: AsUser
) -> None:
    as_user({Role.OFFICER: EVERYWHERE}, user=officer_on_a_and_b.alice)
    assert _create(client, **body).status_code == 422


def test_key_for_a_mission_you_cannot_see_is_404(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    as_user({Role.OFFICER: frozenset({ministry.a.id})}, user=ministry.alice)
    assert _create(client, missions=[str(ministry.b.id)]).status_code == 404


def test_owner_revokes_own_key_and_it_is_audited(
    client: TestClient, officer_on_a_and_b: Ministry, as_user: AsUser, sessions: SessionFactory
) -> None:
    m = officer_on_a_and_b
    as_user({Role.OFFICER: frozenset({m.a.id})}, user=m.alice)
    key_id = _create(client).json()["id"]
    revoked = client.delete(f"{API}/apikeys/{key_id}")
    assert revoked.status_code == 200
    assert client.delete(f"{API}/apikeys/{key_id}").status_code == 409
    assert client.get(f"{API}/apikeys").json()["items"] == []
    with sessions.begin() as s:
        actions = s.exec(select(AuditEvent.action)).all()
    assert {"apikey_created", "apikey_revoked"} <= set(actions)


def test_someone_elses_key_is_404_unless_you_administer_its_missions(
    client: TestClient, officer_on_a_and_b: Ministry, as_user: AsUser, sessions: SessionFactory
) -> None:
    m = officer_on_a_and_b
    with sessions.begin() as s:
        key, _ = make_key(s, m.alice, READ, [m.a])
    as_user({Role.OFFICER: frozenset({m.a.id})}, user=m.bob)
    assert client.delete(f"{API}/apikeys/{key.id}").status_code == 404
    as_user({Role.ADMIN: frozenset({m.b.id})}, user=m.bob)
    assert client.get(f"{API}/apikeys", params={"everyone": "true"}).json()["items"] == []
    assert client.delete(f"{API}/apikeys/{key.id}").status_code == 404
    as_user({Role.ADMIN: frozenset({m.a.id})}, user=m.bob)
    everyone = client.get(f"{API}/apikeys", params={"everyone": "true"}).json()["items"]
    assert [k["id"] for k in everyone] == [str(key.id)]
    assert client.delete(f"{API}/apikeys/{key.id}").status_code == 200


def test_key_management_refuses_api_keys(
    client: TestClient,
    officer_on_a_and_b: Ministry,
    act_as: Callable[[Principal], None],
    sessions: SessionFactory,
) -> None:
    with sessions.begin() as s:
        key, token = make_key(s, officer_on_a_and_b.alice, READ)
        act_as(access_service.authenticate_api_key(s, token=token))
    assert _create(client).status_code == 403
    assert client.get(f"{API}/apikeys").status_code == 403
    assert client.delete(f"{API}/apikeys/{key.id}").status_code == 403
    assert client.get(f"{API}/users/{uuid.uuid4()}/grants").status_code == 403
