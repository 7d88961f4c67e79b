"""Fixtures for identity tests: an administrator signed in through the real API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from secops.audit.models import AuditEvent
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Role
from tests.factories.auth import TestUser, grant, login_headers, make_user

API = "/api/v1"


@pytest.fixture
def admin(sessions: SessionFactory) -> TestUser:
    """A ministry-wide administrator with TOTP."""
    with sessions.begin() as session:
        user = make_user(session, username="root-admin")
        grant(session, user, Role.ADMIN)
    return user


@pytest.fixture
def admin_headers(client: TestClient, clock: FrozenClock, admin: TestUser) -> dict[str, str]:
    """A fresh session of the administrator."""
    return login_headers(client, clock, admin)


@pytest.fixture
def alice(sessions: SessionFactory) -> TestUser:
    """An ordinary enrolled user with no grants."""
    with sessions.begin() as session:
        return make_user(session, username="alice")


@pytest.fixture
def audit_actions(sessions: SessionFactory) -> Callable[[], list[tuple[str, str]]]:
    """The (action, outcome) of every audit event so far, oldest first."""

    def read() -> list[tuple[str, str]]:
        with sessions.begin() as session:
            rows = session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
            return [(row.action, str(row.outcome)) for row in rows]

    return read
