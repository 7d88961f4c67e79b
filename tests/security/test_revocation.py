"""Changes of access apply to live sessions and keys on their very next request (ASVS 8.3.2).

Everything here uses real sign-ins and real API keys: no act_as.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from secops.auth.access import service as access_service
from secops.auth.models import User
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Permission, Principal, Role, system_principal
from secops.missions.models import Mission, MissionKind
from tests.factories.access import person
from tests.factories.auth import TestUser, grant, login_headers, make_user, next_code
from tests.factories.missions import make_mission
from tests.security.callers import key_headers

API = "/api/v1"


@dataclass(frozen=True)
class Post:
    """An officer on mission A, an admin over the ministry, and their credentials."""

    a: Mission
    officer: TestUser
    admin: TestUser
    officer_headers: dict[str, str]
    admin_headers: dict[str, str]


@pytest.fixture
def post(client: TestClient, clock: FrozenClock, sessions: SessionFactory) -> Post:
    """Mission A with a signed-in officer and a signed-in ministry admin."""
    with sessions.begin() as s:
        hq = make_mission(s, "HQ", kind=MissionKind.HQ)
        a = make_mission(s, "EMB-A", parent=hq)
        officer = make_user(s, username="officer-a")
        grant(s, officer, Role.OFFICER, mission_id=a.id, include_children=False)
        admin = make_user(s, username="root-admin")
        grant(s, admin, Role.ADMIN)
    return Post(
        a=a,
        officer=officer,
        admin=admin,
        officer_headers=login_headers(client, clock, officer),
        admin_headers=login_headers(client, clock, admin),
    )


def _officer_key(sessions: SessionFactory, post: Post, *permissions: Permission) -> dict[str, str]:
    with sessions.begin() as s:
        return key_headers(s, post.officer.id, permissions or [Permission.MISSIONS_READ])


def _revoke_officer_grant(client: TestClient, post: Post) -> None:
    grants = client.get(f"{API}/users/{post.officer.id}/grants", headers=post.admin_headers)
    (only,) = grants.json()["items"]
    response = client.delete(f"{API}/grants/{only['id']}", headers=post.admin_headers)
    assert response.status_code == 200


def test_revoked_grant_hides_the_mission_from_the_same_session(
    client: TestClient, post: Post
) -> None:
    mission_url = f"{API}/missions/{post.a.id}"
    assert client.get(mission_url, headers=post.officer_headers).status_code == 200
    _revoke_officer_grant(client, post)
    after = client.get(mission_url, headers=post.officer_headers)
    assert after.status_code == 403  # no role left anywhere: missions:read is not held at all
    assert client.get(f"{API}/auth/me", headers=post.officer_headers).status_code == 200


def test_revoked_grant_on_one_mission_is_404_while_another_remains(
    client: TestClient, post: Post, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        other = make_mission(s, "EMB-OTHER")
        grant(s, post.officer, Role.OFFICER, mission_id=other.id, include_children=False)
        on_a = next(
            g
            for g in access_service.list_grants(
                s, principal=system_principal("tests"), user_id=post.officer.id
            )
            if g.mission_id == post.a.id
        )
    mission_url = f"{API}/missions/{post.a.id}"
    assert client.get(mission_url, headers=post.officer_headers).status_code == 200
    revoked = client.delete(f"{API}/grants/{on_a.id}", headers=post.admin_headers)
    assert revoked.status_code == 200
    after = client.get(mission_url, headers=post.officer_headers)
    assert after.status_code == 404
    listed = client.get(f"{API}/missions", headers=post.officer_headers).json()["items"]
    assert [m["code"] for m in listed] == ["EMB-OTHER"]


def test_revoked_grant_stops_the_owners_keys_too(
    client: TestClient, post: Post, sessions: SessionFactory
) -> None:
    key = _officer_key(sessions, post)
    assert client.get(f"{API}/missions/{post.a.id}", headers=key).status_code == 200
    _revoke_officer_grant(client, post)
    assert client.get(f"{API}/missions/{post.a.id}", headers=key).status_code == 403


def test_disabling_the_owner_makes_the_key_401(
    client: TestClient, post: Post, sessions: SessionFactory
) -> None:
    key = _officer_key(sessions, post)
    assert client.get(f"{API}/missions", headers=key).status_code == 200
    disabled = client.post(f"{API}/users/{post.officer.id}/disable", headers=post.admin_headers)
    assert disabled.status_code == 200
    assert client.get(f"{API}/missions", headers=key).status_code == 401


def test_expired_key_is_401(
    client: TestClient, post: Post, sessions: SessionFactory, clock: FrozenClock
) -> None:
    with sessions.begin() as s:
        _, token = access_service.create_api_key(
            s,
            principal=_fresh(s, post.officer),
            name="short",
            permissions=[Permission.MISSIONS_READ],
            mission_ids=None,
            days=1,
        )
    headers = {"Authorization": f"Bearer {token}"}
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert client.get(f"{API}/missions", headers=headers).status_code == 200
    clock.advance(seconds=1)
    response = client.get(f"{API}/missions", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_revoked_key_is_401(client: TestClient, post: Post, sessions: SessionFactory) -> None:
    key = _officer_key(sessions, post)
    (listed,) = client.get(f"{API}/apikeys", headers=post.officer_headers).json()["items"]
    revoked = client.delete(f"{API}/apikeys/{listed['id']}", headers=post.officer_headers)
    assert revoked.status_code == 200
    assert client.get(f"{API}/missions", headers=key).status_code == 401


def test_key_without_the_permission_is_403_though_its_owner_holds_it(
    client: TestClient, post: Post, sessions: SessionFactory
) -> None:
    key = _officer_key(sessions, post, Permission.ACCOUNTS_READ)
    assert client.get(f"{API}/missions", headers=post.officer_headers).status_code == 200
    assert client.get(f"{API}/missions", headers=key).status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/auth/me"),
        ("GET", "/auth/sessions"),
        ("POST", "/auth/logout"),
        ("POST", "/apikeys"),
        ("GET", "/apikeys"),
        ("GET", "/users"),
    ],
)
def test_keys_are_refused_on_identity_and_key_routes(
    method: str, path: str, client: TestClient, post: Post, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        grant(s, post.officer, Role.AUDITOR)
    key = _officer_key(sessions, post, Permission.MISSIONS_READ, Permission.USERS_READ)
    body = {"name": "minted", "permissions": ["missions:read"]} if method == "POST" else None
    assert client.request(method, f"{API}{path}", json=body, headers=key).status_code == 403


def test_a_key_created_over_http_works_and_is_shown_once(client: TestClient, post: Post) -> None:
    created = client.post(
        f"{API}/apikeys",
        json={"name": "export", "permissions": ["missions:read"], "missions": [str(post.a.id)]},
        headers=post.officer_headers,
    )
    assert created.status_code == 201, created.text
    key = {"Authorization": f"Bearer {created.json()['token']}"}
    listed = client.get(f"{API}/missions", headers=key).json()["items"]
    assert [m["code"] for m in listed] == ["EMB-A"]
    assert "token" not in client.get(f"{API}/apikeys", headers=post.officer_headers).text


def test_granting_with_an_old_sign_in_needs_step_up_then_works(
    client: TestClient, post: Post, clock: FrozenClock
) -> None:
    clock.advance(minutes=6)
    body = {"role": "manager", "mission_id": str(post.a.id)}
    url = f"{API}/users/{post.officer.id}/grants"
    stale = client.post(url, json=body, headers=post.admin_headers)
    assert stale.status_code == 401
    assert stale.json()["type"] == "urn:secops:problem:step-up-required"
    reauth = client.post(
        f"{API}/auth/reauth",
        json={"password": post.admin.password, "totp_code": next_code(post.admin, clock)},
        headers=post.admin_headers,
    )
    assert reauth.status_code == 200, reauth.text
    fresh = {"Authorization": f"Bearer {reauth.json()['token']}"}
    assert client.post(url, json=body, headers=fresh).status_code == 201


def _fresh(s: Session, user: TestUser) -> Principal:
    row = s.get(User, user.id)
    assert row is not None
    return person(s, row)
