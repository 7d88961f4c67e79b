"""Pruning the sign-in throttle: rows whose back-off ended a day ago go; live back-offs stay."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from secops.auth import throttle
from secops.auth.models import SignInThrottle
from secops.auth.usernames import username_key
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from tests.auth.conftest import API
from tests.factories.auth import TestUser

LOGIN = f"{API}/auth/login"


def _row(
    session: Session,
    name: str,
    *,
    failures: int,
    last_failure_at: datetime,
    next_attempt_at: datetime | None = None,
) -> str:
    key = throttle.key_for(name)
    session.add(
        SignInThrottle(
            key_hash=key,
            failures=failures,
            last_failure_at=last_failure_at,
            next_attempt_at=next_attempt_at,
        )
    )
    return key


def _keys(sessions: SessionFactory) -> set[str]:
    with sessions.begin() as session:
        return set(session.exec(select(SignInThrottle.key_hash)).all())


def _prune(sessions: SessionFactory) -> int:
    with sessions.begin() as session:
        return throttle.prune_stale(session)


def _fail(client: TestClient, username: str) -> int:
    body = {"username": username, "password": "not the password", "totp_code": "000000"}
    return client.post(LOGIN, json=body).status_code


def test_only_rows_whose_backoff_ended_a_day_ago_are_deleted(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    now = clock.now()
    cutoff = now - throttle.STALE_AFTER
    with sessions.begin() as s:
        quiet = _row(s, "quiet", failures=3, last_failure_at=now - timedelta(days=2))
        capped = _row(
            s,
            "capped",
            failures=40,
            last_failure_at=cutoff - timedelta(minutes=15),
            next_attempt_at=cutoff,
        )
        recent = _row(s, "recent", failures=2, last_failure_at=now - timedelta(hours=23))
        ended_lately = _row(
            s,
            "ended-lately",
            failures=12,
            last_failure_at=cutoff - timedelta(minutes=5),
            next_attempt_at=cutoff + timedelta(seconds=1),
        )
        backing_off = _row(
            s,
            "backing-off",
            failures=30,
            last_failure_at=now,
            next_attempt_at=now + timedelta(seconds=throttle.MAX_DELAY_SECONDS),
        )

    assert _prune(sessions) == 2

    assert _keys(sessions) == {recent, ended_lately, backing_off}
    assert quiet not in _keys(sessions)
    assert capped not in _keys(sessions)
    assert _prune(sessions) == 0


def test_rows_left_by_unknown_names_are_pruned_after_a_quiet_day(
    client: TestClient, sessions: SessionFactory, clock: FrozenClock
) -> None:
    names = [f"nobody-{i}" for i in range(3)]
    for name in names:
        assert _fail(client, name) == 401
    expected = {throttle.key_for(username_key(name)) for name in names}
    assert _keys(sessions) == expected

    clock.advance(throttle.STALE_AFTER - timedelta(seconds=1))
    assert _prune(sessions) == 0
    clock.advance(seconds=1)
    assert _prune(sessions) == 3
    assert _keys(sessions) == set()


def test_pruning_leaves_a_running_backoff_in_force(
    client: TestClient, sessions: SessionFactory, clock: FrozenClock, alice: TestUser
) -> None:
    for _ in range(throttle.FREE_FAILURES + 1):
        assert _fail(client, alice.username) == 401

    assert _prune(sessions) == 0

    right = {"username": alice.username, "password": alice.password, "totp_code": alice.code(clock)}
    refused = client.post(LOGIN, json=right)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"


def test_a_name_quiet_for_a_day_starts_again_from_zero(
    client: TestClient, sessions: SessionFactory, clock: FrozenClock, alice: TestUser
) -> None:
    long_ago = clock.now() - throttle.STALE_AFTER - timedelta(hours=1)
    with sessions.begin() as s:
        _row(
            s,
            username_key(alice.username),
            failures=40,
            last_failure_at=long_ago,
            next_attempt_at=long_ago + timedelta(seconds=throttle.MAX_DELAY_SECONDS),
        )

    assert _prune(sessions) == 1

    # With the old count kept, this failure would start a 15-minute back-off.
    assert _fail(client, alice.username) == 401
    right = {"username": alice.username, "password": alice.password, "totp_code": alice.code(clock)}
    assert client.post(LOGIN, json=right).status_code == 200
