"""Users hear about factor changes and unusual sign-ins through the notification outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from secops.auth.events import AuthEvent
from secops.auth.notices import FACTOR_EVENTS, LOGIN_LOCK, SIGN_IN_ATTEMPTS, UNUSUAL_SIGN_IN
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.outbox import OutboxMessage, OutboxStatus
from tests.factories.auth import login_headers, make_user

LOGIN = "/api/v1/auth/login"
ClientFrom = Callable[[str], TestClient]


@pytest.fixture
def client_from(app: FastAPI) -> Iterator[ClientFrom]:
    """Clients of the same app that connect from a given address."""
    opened: list[TestClient] = []

    def make(address: str) -> TestClient:
        test_client = TestClient(app, raise_server_exceptions=False, client=(address, 40000))
        opened.append(test_client.__enter__())
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


def _messages(sessions: SessionFactory, kind: str | None = None) -> list[OutboxMessage]:
    with sessions.begin() as session:
        query = select(OutboxMessage)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list(session.exec(query).all())


def test_every_notified_event_name_is_a_real_identity_event() -> None:
    names = {event.value for event in AuthEvent}
    assert set(FACTOR_EVENTS) <= names
    assert LOGIN_LOCK in names


def test_password_change_queues_a_notice_without_the_password(
    client: TestClient, sessions: SessionFactory, clock: FrozenClock
) -> None:
    with sessions.begin() as session:
        user = make_user(session, username="claire")
    headers = login_headers(client, clock, user)
    new_password = "seventeen quiet lanterns over the harbour"
    response = client.post(
        "/api/v1/auth/password",
        json={"current_password": user.password, "new_password": new_password},
        headers=headers,
    )
    assert response.status_code in (200, 204), response.text
    changes = _messages(sessions, "security.factor_changed")
    assert len(changes) == 2  # the authenticator set up by make_user, then the password
    [notice] = [m for m in changes if "password" in m.body]
    assert notice.recipient_user_id == user.id
    assert notice.status == OutboxStatus.PENDING
    assert "password was changed" in notice.body
    assert new_password not in notice.body
    assert user.password not in notice.body


def test_sign_in_from_a_new_address_queues_one_notice(
    client_from: ClientFrom, sessions: SessionFactory, clock: FrozenClock
) -> None:
    with sessions.begin() as session:
        user = make_user(session, username="tomas")
    first = client_from("10.0.0.5")
    login_headers(first, clock, user)
    login_headers(first, clock, user)
    assert _messages(sessions, UNUSUAL_SIGN_IN) == []
    other = client_from("203.0.113.9")
    login_headers(other, clock, user)
    [notice] = _messages(sessions, UNUSUAL_SIGN_IN)
    assert "203.0.113.9" in notice.body
    assert notice.recipient_user_id == user.id


def test_back_off_notifies_the_user_once_an_hour(
    client: TestClient, sessions: SessionFactory, clock: FrozenClock
) -> None:
    with sessions.begin() as session:
        user = make_user(session, username="ingrid")
    refused = 0
    for _ in range(12):
        response = client.post(
            LOGIN, json={"username": "ingrid", "password": "wrong guess", "totp_code": "000000"}
        )
        refused += response.status_code == 429
    assert refused > 0
    notices = _messages(sessions, SIGN_IN_ATTEMPTS)
    assert len(notices) == 1
    assert notices[0].recipient_user_id == user.id
    assert "wrong guess" not in notices[0].body
