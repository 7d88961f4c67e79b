"""TOTP: RFC 6238 vectors, the ±1-step window, one use per step, ASCII digits only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from secops.auth import signin, totp
from secops.auth.models import User
from secops.auth.outcomes import Refused
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from tests.auth.conftest import API
from tests.factories.auth import TestUser, make_user

# RFC 6238 Appendix B, SHA-1 rows: the 20-byte ASCII key "12345678901234567890", 8 digits.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_rfc6238_appendix_b_sha1_vectors(unix_time: int, expected: str) -> None:
    assert totp.code_at(RFC_SECRET, unix_time, digits=8) == expected
    assert totp.code_at(RFC_SECRET, datetime.fromtimestamp(unix_time, UTC), digits=8) == expected


def test_secret_has_160_random_bits() -> None:
    secrets = {totp.new_secret() for _ in range(200)}
    assert len(secrets) == 200
    assert all(len(s) == 32 for s in secrets)  # 32 base32 characters = 160 bits


def test_provisioning_uri_and_qr_are_local_and_standard() -> None:
    uri = totp.provisioning_uri(RFC_SECRET, account="alice")
    assert uri.startswith("otpauth://totp/secops:alice?")
    assert f"secret={RFC_SECRET}" in uri
    assert totp.qr_svg_data_uri(uri).startswith("data:image/svg+xml;base64,")


def _login(client: TestClient, user: TestUser, code: str) -> int:
    body = {"username": user.username, "password": user.password, "totp_code": code}
    return client.post(f"{API}/auth/login", json=body).status_code


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-30, True), (30, True), (-60, False), (60, False)]
)
def test_window_is_one_step_each_way(
    client: TestClient, clock: FrozenClock, alice: TestUser, offset: int, accepted: bool
) -> None:
    assert alice.totp_secret is not None
    code = totp.code_at(alice.totp_secret, clock.now() + timedelta(seconds=offset))
    assert (_login(client, alice, code) == 200) is accepted


def test_client_supplied_time_is_not_accepted(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    assert alice.totp_secret is not None
    later = clock.now() + timedelta(minutes=10)
    body = {
        "username": alice.username,
        "password": alice.password,
        "totp_code": totp.code_at(alice.totp_secret, later),
        "time": int(later.timestamp()),
    }
    assert client.post(f"{API}/auth/login", json=body).status_code == 422  # no such field


def test_same_code_is_refused_the_second_time(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    code = alice.code(clock)
    assert _login(client, alice, code) == 200
    assert _login(client, alice, code) == 401


def test_an_earlier_step_is_refused_after_a_later_one_was_used(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    assert alice.totp_secret is not None
    later = totp.code_at(alice.totp_secret, clock.now() + timedelta(seconds=30))
    earlier = totp.code_at(alice.totp_secret, clock.now())
    assert _login(client, alice, later) == 200
    assert _login(client, alice, earlier) == 401


def test_full_width_digits_are_refused(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    code = alice.code(clock)
    full_width = "".join(chr(ord(c) - ord("0") + 0xFF10) for c in code)
    assert _login(client, alice, full_width) == 401
    assert _login(client, alice, code) == 200  # the step was not spent by the refused variant


@pytest.mark.parametrize("code", ["12345", "1234567", " 123456", "12 3456", "abcdef", "١٢٣٤٥٦"])
def test_malformed_codes_never_reach_pyotp(code: str) -> None:
    assert totp.matching_timecode(RFC_SECRET, code, at=datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_two_threads_with_the_same_code_succeed_exactly_once(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    with sessions.begin() as session:
        user = make_user(session, username="racer")
    code = user.code(clock)
    barrier = threading.Barrier(2)
    results: list[bool] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        with sessions.begin() as session:
            outcome = signin.sign_in(
                session, username=user.username, password=user.password, totp_code=code
            )
        with lock:
            results.append(not isinstance(outcome, Refused))

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False, True]
    with sessions.begin() as session:
        row = session.exec(select(User).where(User.id == user.id)).one()
        assert row.last_totp_timecode == totp.timecode_of(clock.now())
