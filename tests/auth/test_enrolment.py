"""Mandatory TOTP: enrolment-only sessions, enrolment, recovery codes, step-up."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from secops.auth import totp
from secops.auth.models import RecoveryCode, User
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory
from tests.auth.conftest import API
from tests.factories.auth import TestUser, bearer, login, login_headers, make_user
from tests.security.routing import route_cases

PARAM = re.compile(r"{[^}]+}")
ENROLMENT_ROUTES = {
    ("POST", f"{API}/auth/totp/start"),
    ("POST", f"{API}/auth/totp/confirm"),
    ("POST", f"{API}/auth/logout"),
}


@pytest.fixture
def newcomer(sessions: SessionFactory) -> TestUser:
    with sessions.begin() as session:
        return make_user(session, username="newcomer", enrolled=False)


def _enrolment_token(client: TestClient, user: TestUser) -> str:
    body = {"username": user.username, "password": user.password}
    response = client.post(f"{API}/auth/login", json=body)
    assert response.json()["enrolment_required"] is True
    return str(response.json()["token"])


def _enrol(client: TestClient, clock: FrozenClock, token: str) -> tuple[str, dict[str, object]]:
    started = client.post(f"{API}/auth/totp/start", headers=bearer(token)).json()
    code = totp.code_at(started["secret"], clock.now())
    response = client.post(f"{API}/auth/totp/confirm", json={"code": code}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return str(started["secret"]), response.json()


def test_unenrolled_user_reaches_only_the_enrolment_routes(
    app: object, client: TestClient, newcomer: TestUser
) -> None:
    headers = bearer(_enrolment_token(client, newcomer))
    reached = set()
    for case in route_cases(app):  # type: ignore[arg-type]
        if case.public:
            continue
        status = client.request(
            case.method, PARAM.sub(str(uuid.uuid4()), case.path), headers=headers, json={}
        ).status_code
        if status not in (401, 403):
            reached.add(case.key)
    assert reached <= ENROLMENT_ROUTES
    assert reached


def test_enrolment_start_returns_secret_uri_and_local_svg_qr(
    client: TestClient, newcomer: TestUser
) -> None:
    token = _enrolment_token(client, newcomer)
    started = client.post(f"{API}/auth/totp/start", headers=bearer(token)).json()
    assert len(started["secret"]) == 32
    assert started["otpauth_uri"].startswith("otpauth://totp/secops:newcomer?secret=")
    assert started["qr_svg"].startswith("data:image/svg+xml;base64,")


def test_confirming_enrolment_gives_recovery_codes_and_a_full_session(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, newcomer: TestUser
) -> None:
    token = _enrolment_token(client, newcomer)
    _, confirmed = _enrol(client, clock, token)
    codes = confirmed["recovery_codes"]
    assert isinstance(codes, list)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    new_session = confirmed["session"]
    assert isinstance(new_session, dict)
    assert new_session["enrolment_required"] is False
    assert client.get(f"{API}/auth/me", headers=bearer(token)).status_code == 401
    me = client.get(f"{API}/auth/me", headers=bearer(new_session["token"])).json()
    assert me["totp_enrolled"] is True
    assert me["recovery_codes_remaining"] == 10
    with sessions.begin() as session:
        user = session.exec(select(User).where(User.id == newcomer.id)).one()
        assert user.totp_pending_secret is None
        assert user.totp_secret is not None


def test_wrong_confirmation_code_keeps_totp_off(
    client: TestClient, clock: FrozenClock, newcomer: TestUser
) -> None:
    token = _enrolment_token(client, newcomer)
    started = client.post(f"{API}/auth/totp/start", headers=bearer(token)).json()
    wrong = totp.code_at(started["secret"], clock.now().timestamp() + 300)
    response = client.post(f"{API}/auth/totp/confirm", json={"code": wrong}, headers=bearer(token))
    assert response.status_code == 403
    assert client.post(f"{API}/auth/logout", headers=bearer(token)).status_code == 204


def test_confirm_without_start_is_a_conflict(client: TestClient, newcomer: TestUser) -> None:
    token = _enrolment_token(client, newcomer)
    response = client.post(
        f"{API}/auth/totp/confirm", json={"code": "123456"}, headers=bearer(token)
    )
    assert response.status_code == 409


def test_recovery_code_signs_in_once(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, newcomer: TestUser
) -> None:
    _, confirmed = _enrol(client, clock, _enrolment_token(client, newcomer))
    code = confirmed["recovery_codes"][0]  # type: ignore[index]
    body = {"username": newcomer.username, "password": newcomer.password, "recovery_code": code}
    assert client.post(f"{API}/auth/login", json=body).status_code == 200
    assert client.post(f"{API}/auth/login", json=body).status_code == 401
    with sessions.begin() as session:
        stored = session.exec(select(RecoveryCode)).all()
    dump = repr([row.model_dump() for row in stored])
    for plain in confirmed["recovery_codes"]:  # type: ignore[union-attr]
        assert plain not in dump
        assert plain.replace("-", "") not in dump
    assert sum(row.used_at is not None for row in stored) == 1


def test_regenerating_recovery_codes_voids_the_old_set_and_needs_step_up(
    client: TestClient, clock: FrozenClock, settings: Settings, newcomer: TestUser
) -> None:
    _, confirmed = _enrol(client, clock, _enrolment_token(client, newcomer))
    old: list[str] = confirmed["recovery_codes"]  # type: ignore[assignment]
    session: dict[str, str] = confirmed["session"]  # type: ignore[assignment]
    headers = bearer(session["token"])
    clock.advance(seconds=settings.step_up_max_age_seconds + 1)
    stale = client.post(f"{API}/auth/recovery-codes", headers=headers)
    assert stale.status_code == 401
    assert stale.json()["type"] == "urn:secops:problem:step-up-required"
    reauth = {"password": newcomer.password, "recovery_code": old[0]}
    fresh = client.post(f"{API}/auth/reauth", json=reauth, headers=headers)
    assert fresh.status_code == 200
    assert client.get(f"{API}/auth/me", headers=headers).status_code == 401  # old token ended
    fresh_headers = bearer(fresh.json()["token"])
    regenerated = client.post(f"{API}/auth/recovery-codes", headers=fresh_headers)
    new: list[str] = regenerated.json()["recovery_codes"]
    assert set(new).isdisjoint(old)
    body = {"username": newcomer.username, "password": newcomer.password}
    with_old = client.post(f"{API}/auth/login", json={**body, "recovery_code": old[1]})
    assert with_old.status_code == 401
    with_new = client.post(f"{API}/auth/login", json={**body, "recovery_code": new[0]})
    assert with_new.status_code == 200


def test_replacing_a_confirmed_secret_needs_step_up(
    client: TestClient, clock: FrozenClock, settings: Settings, alice: TestUser
) -> None:
    headers = login_headers(client, clock, alice)
    clock.advance(seconds=settings.step_up_max_age_seconds + 1)
    response = client.post(f"{API}/auth/totp/start", headers=headers)
    assert response.status_code == 401
    assert response.json()["type"] == "urn:secops:problem:step-up-required"


def test_reauth_refreshes_auth_time_and_allows_factor_change(
    client: TestClient, clock: FrozenClock, settings: Settings, alice: TestUser
) -> None:
    first = login(client, clock, alice)
    clock.advance(seconds=settings.step_up_max_age_seconds + 1)
    body = {"password": alice.password, "totp_code": "000000"}
    headers = bearer(str(first["token"]))
    assert client.post(f"{API}/auth/reauth", json=body, headers=headers).status_code == 401
    body["totp_code"] = alice.code(clock)
    fresh = client.post(f"{API}/auth/reauth", json=body, headers=headers)
    assert fresh.status_code == 200
    assert fresh.json()["token"] != first["token"]
    started = client.post(f"{API}/auth/totp/start", headers=bearer(fresh.json()["token"]))
    assert started.status_code == 200
    # The old secret keeps working until the new one is confirmed.
    clock.advance(seconds=30)
    assert login(client, clock, alice)["enrolment_required"] is False
