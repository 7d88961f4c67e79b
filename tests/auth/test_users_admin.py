"""Administering users: invitations, resets that never bypass TOTP, two-admin factor resets."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from secops.auth.access import service as access_service
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Permission, Principal, PrincipalKind, Role
from tests.auth.conftest import API
from tests.factories.auth import TestUser, bearer, grant, login, login_headers, make_user
from tests.factories.missions import make_mission

USERS = f"{API}/users"
REDEEM = f"{API}/auth/redeem"


def _create(client: TestClient, headers: dict[str, str], username: str) -> dict[str, object]:
    body = {"username": username, "display_name": username.title(), "email": "n@example.org"}
    response = client.post(USERS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def test_invited_user_sets_own_password_then_must_enrol(
    client: TestClient, clock: FrozenClock, admin_headers: dict[str, str]
) -> None:
    created = _create(client, admin_headers, "bob")
    invitation = created["invitation"]
    assert isinstance(invitation, dict)
    assert created["user"]["password_set"] is False  # type: ignore[index]
    assert invitation["token"].startswith("secops_r_")
    response = client.post(
        REDEEM, json={"token": invitation["token"], "password": "bob's own phrase"}
    )
    assert response.status_code == 200
    assert response.json()["enrolment_required"] is True
    again = client.post(REDEEM, json={"token": invitation["token"], "password": "another phrase!"})
    assert again.status_code == 401  # single use
    login = {"username": "bob", "password": "bob's own phrase"}
    assert client.post(f"{API}/auth/login", json=login).json()["enrolment_required"] is True


def test_invitation_expires(
    client: TestClient, clock: FrozenClock, admin_headers: dict[str, str]
) -> None:
    token = _create(client, admin_headers, "late")["invitation"]["token"]  # type: ignore[index]
    clock.advance(hours=72, seconds=1)
    assert (
        client.post(REDEEM, json={"token": token, "password": "a fine phrase"}).status_code == 401
    )


def test_duplicate_usernames_collide_after_normalisation(
    client: TestClient, admin_headers: dict[str, str], alice: TestUser
) -> None:
    body = {"username": "ALICE", "display_name": "Other Alice"}
    assert client.post(USERS, json=body, headers=admin_headers).status_code == 409


@pytest.mark.parametrize("bad", ["ab", "x" * 65, "has space", "line\r\nbreak", "semi;colon"])
def test_username_rules(client: TestClient, admin_headers: dict[str, str], bad: str) -> None:
    response = client.post(
        USERS, json={"username": bad, "display_name": "X"}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "username"]


def test_password_reset_still_needs_totp(
    client: TestClient, clock: FrozenClock, admin_headers: dict[str, str], alice: TestUser
) -> None:
    alice_headers = login_headers(client, clock, alice)
    reset = client.post(f"{USERS}/{alice.id}/reset", json={}, headers=admin_headers).json()
    assert reset["purpose"] == "password_reset"
    assert reset["status"] == "issued"
    without_code = {"token": reset["token"], "password": "a fresh passphrase"}
    assert client.post(REDEEM, json=without_code).status_code == 401
    clock.advance(seconds=30)
    with_code = {**without_code, "totp_code": alice.code(clock)}
    response = client.post(REDEEM, json=with_code)
    assert response.status_code == 200
    assert response.json()["enrolment_required"] is False
    assert client.get(f"{API}/auth/me", headers=alice_headers).status_code == 401  # sessions ended


def test_factor_reset_needs_a_second_admin(
    client: TestClient,
    clock: FrozenClock,
    sessions: SessionFactory,
    admin_headers: dict[str, str],
    alice: TestUser,
) -> None:
    with sessions.begin() as session:
        second = make_user(session, username="second-admin")
        grant(session, second, Role.ADMIN)
    started = client.post(f"{USERS}/{alice.id}/reset", json={"factor": True}, headers=admin_headers)
    assert started.status_code == 201
    ticket = started.json()
    assert ticket == {
        **ticket,
        "purpose": "factor_reset",
        "status": "awaiting_approval",
        "token": None,
    }
    approve = f"{USERS}/{alice.id}/resets/{ticket['id']}/approve"
    assert client.post(approve, headers=admin_headers).status_code == 403  # not the requester
    approved = client.post(approve, headers=login_headers(client, clock, second))
    assert approved.status_code == 200
    token = approved.json()["token"]
    assert client.post(approve, headers=login_headers(client, clock, second)).status_code == 409
    redeemed = client.post(REDEEM, json={"token": token, "password": "back in business"})
    assert redeemed.status_code == 200
    assert redeemed.json()["enrolment_required"] is True
    alice.password, alice.totp_secret = "back in business", None
    assert login(client, clock, alice)["enrolment_required"] is True


def test_admins_cannot_reset_themselves(
    client: TestClient, admin: TestUser, admin_headers: dict[str, str]
) -> None:
    response = client.post(f"{USERS}/{admin.id}/reset", json={}, headers=admin_headers)
    assert response.status_code == 403


def test_reset_needs_step_up(
    client: TestClient,
    clock: FrozenClock,
    settings: Settings,
    admin_headers: dict[str, str],
    alice: TestUser,
) -> None:
    clock.advance(seconds=settings.step_up_max_age_seconds + 1)
    response = client.post(f"{USERS}/{alice.id}/reset", json={}, headers=admin_headers)
    assert response.status_code == 401
    assert response.json()["type"] == "urn:secops:problem:step-up-required"


def test_mission_admins_and_others_cannot_administer_users(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, alice: TestUser
) -> None:
    with sessions.begin() as session:
        mission = make_mission(session, "DE-BER", name="Embassy in Berlin", city="Berlin")
        local = make_user(session, username="local-admin")
        grant(session, local, Role.ADMIN, mission_id=mission.id)
    headers = login_headers(client, clock, local)
    assert client.post(f"{USERS}/{alice.id}/disable", headers=headers).status_code == 403
    plain = login_headers(client, clock, alice)
    assert client.get(USERS, headers=plain).status_code == 403
    assert client.post(f"{USERS}/{alice.id}/disable", headers=plain).status_code == 403


def test_unknown_user_is_404(client: TestClient, admin_headers: dict[str, str]) -> None:
    missing = uuid.uuid4()
    assert client.get(f"{USERS}/{missing}", headers=admin_headers).status_code == 404
    assert client.post(f"{USERS}/{missing}/disable", headers=admin_headers).status_code == 404


def test_admin_cannot_disable_themselves(
    client: TestClient, admin: TestUser, admin_headers: dict[str, str]
) -> None:
    assert client.post(f"{USERS}/{admin.id}/disable", headers=admin_headers).status_code == 409


def test_disabled_user_can_be_enabled_again(
    client: TestClient, clock: FrozenClock, admin_headers: dict[str, str], alice: TestUser
) -> None:
    client.post(f"{USERS}/{alice.id}/disable", headers=admin_headers)
    enabled = client.post(f"{USERS}/{alice.id}/enable", headers=admin_headers)
    assert enabled.json()["status"] == "active"
    assert login(client, clock, alice)["enrolment_required"] is False


def test_list_is_paginated_and_carries_no_secrets(
    client: TestClient, sessions: SessionFactory, admin_headers: dict[str, str]
) -> None:
    with sessions.begin() as session:
        for i in range(5):
            make_user(session, username=f"staff{i}")
    first = client.get(USERS, params={"limit": 3}, headers=admin_headers).json()
    second = client.get(
        USERS, params={"limit": 3, "cursor": first["next_cursor"]}, headers=admin_headers
    ).json()
    names = [u["username"] for u in first["items"] + second["items"]]
    assert len(names) == len(set(names)) == 6
    text = str(first) + str(second)
    for secret_field in ("password_hash", "totp_secret", "token_hash", "last_totp_timecode"):
        assert secret_field not in text


def test_get_user_has_an_etag(
    client: TestClient, admin_headers: dict[str, str], alice: TestUser
) -> None:
    response = client.get(f"{USERS}/{alice.id}", headers=admin_headers)
    assert response.headers["ETag"] == f'"v{response.json()["version"]}"'


def test_api_keys_are_refused_on_identity_and_user_routes(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, admin: TestUser
) -> None:
    person = Principal(
        kind=PrincipalKind.USER,
        id=admin.id,
        name=admin.username,
        roles={Role.ADMIN: EVERYWHERE},
        authenticated_at=clock.now(),
    )
    with sessions.begin() as session:
        _, token = access_service.create_api_key(
            session,
            principal=person,
            name="script",
            permissions=[Permission.USERS_READ, Permission.MISSIONS_READ],
            mission_ids=None,
            days=30,
        )
    key = bearer(token)
    assert client.get(f"{API}/missions", headers=key).status_code == 200
    for method, path in [
        ("GET", USERS),
        ("GET", f"{API}/auth/me"),
        ("GET", f"{API}/auth/sessions"),
        ("POST", f"{API}/auth/totp/start"),
        ("POST", f"{API}/auth/logout"),
    ]:
        assert client.request(method, path, headers=key).status_code == 403, path
