"""Sign-in: back-off in the database, no user enumeration, enrolment-only sessions."""

from __future__ import annotations

import statistics
import time

import pytest
from fastapi.testclient import TestClient

from secops.auth import throttle
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from tests.auth.conftest import API
from tests.factories.auth import TestUser, bearer, make_user
from tests.security.routing import comparable

LOGIN = f"{API}/auth/login"


def _attempt(client: TestClient, user: TestUser, password: str, code: str | None) -> int:
    body = {"username": user.username, "password": password}
    if code is not None:
        body["totp_code"] = code
    return client.post(LOGIN, json=body).status_code


def test_backoff_engages_after_the_free_failures_and_refuses_the_right_password(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    for _ in range(throttle.FREE_FAILURES + 1):
        assert _attempt(client, alice, "wrong password!", None) == 401
    response = client.post(
        LOGIN,
        json={
            "username": alice.username,
            "password": alice.password,
            "totp_code": alice.code(clock),
        },
    )
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["type"] == "urn:secops:problem:too-many-requests"
    clock.advance(seconds=1)
    assert _attempt(client, alice, alice.password, alice.code(clock)) == 200


def test_twenty_failures_give_429_with_growing_retry_after(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    waits = []
    for _ in range(20):
        response = client.post(LOGIN, json={"username": alice.username, "password": "nope-nope"})
        if response.status_code == 429:
            wait = int(response.headers["Retry-After"])
            waits.append(wait)
            clock.advance(seconds=wait)
            response = client.post(
                LOGIN, json={"username": alice.username, "password": "nope-nope"}
            )
        assert response.status_code == 401
    response = client.post(LOGIN, json={"username": alice.username, "password": alice.password})
    assert response.status_code == 429
    assert waits == sorted(waits)
    assert waits[-1] == throttle.MAX_DELAY_SECONDS


def test_wrong_totp_codes_count_as_failures(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    for _ in range(10):
        status = _attempt(client, alice, alice.password, "000000")
        if status == 429:
            break
        assert status == 401
    assert _attempt(client, alice, alice.password, alice.code(clock)) == 429


def test_success_resets_the_count(client: TestClient, clock: FrozenClock, alice: TestUser) -> None:
    for _ in range(throttle.FREE_FAILURES):
        assert _attempt(client, alice, "wrong password!", None) == 401
    assert _attempt(client, alice, alice.password, alice.code(clock)) == 200
    for _ in range(throttle.FREE_FAILURES):
        assert _attempt(client, alice, "wrong password!", None) == 401


def test_two_processes_share_one_counter(
    sessions: SessionFactory, client: TestClient, alice: TestUser, clock: FrozenClock
) -> None:
    other = SessionFactory(sessions.engine, clock=clock, **sessions.info)
    key = throttle.key_for(alice.username)
    for factory in (sessions, other) * 3:
        with factory.begin() as session:
            throttle.record_failure(session, key=key, now=clock.now())
    assert _attempt(client, alice, alice.password, alice.code(clock)) == 429


@pytest.mark.parametrize("schedule", [(5, 0), (6, 1), (7, 2), (10, 16), (15, 512), (16, 900)])
def test_delay_doubles_then_caps(schedule: tuple[int, int]) -> None:
    failures, delay = schedule
    assert throttle.delay_after(failures) == delay
    assert throttle.delay_after(100) == throttle.MAX_DELAY_SECONDS


def test_unknown_names_are_throttled_like_real_ones(client: TestClient) -> None:
    statuses = [
        client.post(LOGIN, json={"username": "nobody", "password": "whatever!"}).status_code
        for _ in range(throttle.FREE_FAILURES + 2)
    ]
    assert statuses[-1] == 429


def test_unknown_user_and_wrong_password_look_identical(
    client: TestClient, alice: TestUser
) -> None:
    unknown = client.post(LOGIN, json={"username": "ghost", "password": "whatever-1"})
    wrong = client.post(LOGIN, json={"username": alice.username, "password": "whatever-1"})
    assert unknown.status_code == wrong.status_code == 401
    assert comparable(unknown.json()) == comparable(wrong.json())
    assert unknown.headers.get("www-authenticate") == wrong.headers.get("www-authenticate")


def test_disabled_user_looks_like_a_wrong_password(
    client: TestClient, clock: FrozenClock, admin_headers: dict[str, str], alice: TestUser
) -> None:
    client.post(f"{API}/users/{alice.id}/disable", headers=admin_headers)
    right = client.post(
        LOGIN,
        json={
            "username": alice.username,
            "password": alice.password,
            "totp_code": alice.code(clock),
        },
    )
    unknown = client.post(LOGIN, json={"username": "ghost", "password": "whatever-1"})
    assert right.status_code == 401
    assert comparable(right.json()) == comparable(unknown.json())


def _elapsed_ms(client: TestClient, body: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.post(LOGIN, json=body)
    assert response.status_code == 401
    return (time.perf_counter() - started) * 1000


def test_unknown_user_costs_the_same_time_as_a_wrong_password(
    client: TestClient, sessions: SessionFactory
) -> None:
    with sessions.begin() as session:
        users = [make_user(session, username=f"timing{i}", enrolled=False) for i in range(4)]
    # Four names each, so no name reaches the back-off (which would answer early with 429).
    unknown, known = [], []
    for i in range(20):
        unknown.append(_elapsed_ms(client, {"username": f"ghost{i % 4}", "password": "wrong-1"}))
        name = users[i % 4].username
        known.append(_elapsed_ms(client, {"username": name, "password": "wrong-1"}))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 <= ratio <= 2.0, ratio


def test_username_comparison_is_normalised(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    full_width = "".join(chr(ord(c) - ord("A") + 0xFF21) for c in "ALICE")
    body = {"username": full_width, "password": alice.password, "totp_code": alice.code(clock)}
    assert client.post(LOGIN, json=body).status_code == 200


def test_unenrolled_user_signs_in_with_password_alone_to_an_enrolment_session(
    client: TestClient, sessions: SessionFactory
) -> None:
    with sessions.begin() as session:
        newcomer = make_user(session, username="newcomer", enrolled=False)
    response = client.post(LOGIN, json={"username": "newcomer", "password": newcomer.password})
    assert response.status_code == 200
    assert response.json()["enrolment_required"] is True
    token = response.json()["token"]
    assert token.startswith("secops_s_")
    me = client.get(f"{API}/auth/me", headers=bearer(token))
    assert me.status_code == 403
    assert me.json()["type"] == "urn:secops:problem:mfa-enrolment-required"


def test_enrolled_user_without_a_code_is_refused(client: TestClient, alice: TestUser) -> None:
    response = client.post(LOGIN, json={"username": alice.username, "password": alice.password})
    assert response.status_code == 401


def test_both_codes_at_once_are_refused(client: TestClient, alice: TestUser) -> None:
    body = {
        "username": alice.username,
        "password": alice.password,
        "totp_code": "123456",
        "recovery_code": "aaaa-bbbb",
    }
    assert client.post(LOGIN, json=body).status_code == 422
