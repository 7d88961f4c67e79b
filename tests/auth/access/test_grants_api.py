"""Grants through the API: who may grant what, where, and the audit trail of each change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import col, select

from secops.audit.models import AuditEvent
from secops.auth.access import service as access_service
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Principal, Role, system_principal
from tests.auth.access.conftest import Ministry
from tests.factories.access import make_grant

API = "/api/v1"
AsUser = Callable[..., Principal]


def _grant(client: TestClient, user_id: uuid.UUID, **body: Any) -> Any:
    return client.post(f"{API}/users/{user_id}/grants", json=body)


def test_ministry_admin_grants_officer_on_a_mission(
    client: TestClient, ministry: Ministry, as_user: AsUser, sessions: SessionFactory
) -> None:
    admin = as_user({Role.ADMIN: EVERYWHERE}, user=ministry.root)
    response = _grant(client, ministry.alice.id, role="officer", mission_id=str(ministry.a.id))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["role"] == "officer"
    assert body["mission_id"] == str(ministry.a.id)
    assert body["created_by"] == str(admin.id)
    with sessions.begin() as s:
        roles = access_service.roles_for_user(s, user_id=ministry.alice.id)
        event = s.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()
    assert roles == {Role.OFFICER: frozenset({ministry.a.id})}
    assert event is not None
    assert event.action == "authz_grant_added"
    assert event.object_id == body["id"]
    assert event.mission_id == ministry.a.id


def test_ministry_wide_grant_with_null_mission(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    as_user({Role.ADMIN: EVERYWHERE}, user=ministry.root)
    response = _grant(client, ministry.alice.id, role="auditor", mission_id=None)
    assert response.status_code == 201
    assert response.json()["mission_id"] is None


def test_granting_with_a_stale_sign_in_needs_step_up(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    as_user({Role.ADMIN: EVERYWHERE}, user=ministry.root, stale=True)
    response = _grant(client, ministry.alice.id, role="officer", mission_id=str(ministry.a.id))
    assert response.status_code == 401
    assert response.json()["type"] == "urn:secops:problem:step-up-required"


def test_mission_admin_cannot_grant_on_another_mission(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    as_user({Role.ADMIN: frozenset({ministry.a.id})})
    response = _grant(client, ministry.alice.id, role="officer", mission_id=str(ministry.b.id))
    assert response.status_code == 404
    assert response.json()["detail"] == "No such mission."


def test_mission_admin_cannot_grant_ministry_wide(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    as_user({Role.ADMIN: frozenset({ministry.a.id})})
    response = _grant(client, ministry.alice.id, role="officer", mission_id=None)
    assert response.status_code == 403


def test_admin_without_children_cannot_grant_with_children(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    as_user({Role.ADMIN: frozenset({ministry.a.id})})
    response = _grant(
        client,
        ministry.alice.id,
        role="officer",
        mission_id=str(ministry.a.id),
        include_children=True,
    )
    assert response.status_code == 403


def test_admin_cannot_raise_themselves_to_ministry_admin(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    me = as_user({Role.ADMIN: frozenset({ministry.a.id, ministry.a1.id})}, user=ministry.bob)
    response = _grant(client, me.id, role="admin", mission_id=None)
    assert response.status_code == 403
    response = _grant(client, me.id, role="admin", mission_id=str(ministry.b.id))
    assert response.status_code == 404


def test_officer_cannot_grant_even_on_own_mission(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    me = as_user({Role.OFFICER: frozenset({ministry.a.id})}, user=ministry.alice)
    response = _grant(client, me.id, role="admin", mission_id=str(ministry.a.id))
    assert response.status_code == 403
    assert "users:admin" in response.json()["detail"]


def test_granting_to_an_unknown_user_is_404(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    as_user({Role.ADMIN: EVERYWHERE})
    response = _grant(client, uuid.uuid4(), role="officer", mission_id=str(ministry.a.id))
    assert response.status_code == 404


def test_the_same_grant_twice_is_a_conflict(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    as_user({Role.ADMIN: EVERYWHERE})
    first = _grant(client, ministry.alice.id, role="officer", mission_id=str(ministry.a.id))
    second = _grant(client, ministry.alice.id, role="officer", mission_id=str(ministry.a.id))
    assert (first.status_code, second.status_code) == (201, 409)


def test_grant_body_refuses_unknown_fields_and_roles(
    client: TestClient, ministry: Ministry, as_user: AsUser
) -> None:
    as_user({Role.ADMIN: EVERYWHERE})
    extra = _grant(client, ministry.alice.id, role="officer", created_by=str(ministry.root.id))
    unknown_role = _grant(client, ministry.alice.id, role="superuser")
    assert (extra.status_code, unknown_role.status_code) == (422, 422)


def test_mission_admin_lists_only_grants_on_their_missions(
    client: TestClient, ministry: Ministry, as_user: AsUser, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        on_a = make_grant(s, ministry.alice, Role.OFFICER, ministry.a)
        make_grant(s, ministry.alice, Role.OFFICER, ministry.b)
        make_grant(s, ministry.alice, Role.AUDITOR)
    as_user({Role.ADMIN: frozenset({ministry.a.id})})
    response = client.get(f"{API}/users/{ministry.alice.id}/grants")
    assert response.status_code == 200
    assert [g["id"] for g in response.json()["items"]] == [str(on_a.id)]


def test_revoking_a_grant_ends_the_role(
    client: TestClient, ministry: Ministry, as_user: AsUser, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        grant = make_grant(s, ministry.alice, Role.OFFICER, ministry.a)
    as_user({Role.ADMIN: frozenset({ministry.a.id})})
    response = client.delete(f"{API}/grants/{grant.id}")
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    again = client.delete(f"{API}/grants/{grant.id}")
    assert again.status_code == 409
    with sessions.begin() as s:
        assert access_service.roles_for_user(s, user_id=ministry.alice.id) == {}
        listed = access_service.list_grants(
            s,
            principal=_everywhere(),
            user_id=ministry.alice.id,
            include_revoked=True,
        )
    assert [g.id for g in listed] == [grant.id]


def test_grant_on_another_mission_is_404_like_a_missing_one(
    client: TestClient, ministry: Ministry, as_user: AsUser, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        on_b = make_grant(s, ministry.alice, Role.OFFICER, ministry.b)
    as_user({Role.ADMIN: frozenset({ministry.a.id})})
    hidden = client.delete(f"{API}/grants/{on_b.id}")
    missing = client.delete(f"{API}/grants/{uuid.uuid4()}")
    assert hidden.status_code == missing.status_code == 404
    assert _stable(hidden.json()) == _stable(missing.json())


def test_last_ministry_admin_grant_cannot_be_revoked(
    client: TestClient, ministry: Ministry, as_user: AsUser, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        (only,) = access_service.list_grants(s, principal=_everywhere(), user_id=ministry.root.id)
    as_user({Role.ADMIN: EVERYWHERE}, user=ministry.root)
    response = client.delete(f"{API}/grants/{only.id}")
    assert response.status_code == 409
    assert "last" in response.json()["detail"]


def _everywhere() -> Principal:
    return system_principal("tests")


def _stable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in {"request_id", "instance"}}
