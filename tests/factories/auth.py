"""Users and real sign-ins for tests: ``make_user`` then ``login_headers`` gives a Bearer header."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pyotp
from fastapi.testclient import TestClient
from sqlmodel import Session

from secops.auth import service as auth_service
from secops.auth import totp
from secops.auth.access import service as access_service
from secops.core.clock import FrozenClock
from secops.core.principal import Role, system_principal

DEFAULT_PASSWORD = "correct horse battery staple 42"
LOGIN_PATH = "/api/v1/auth/login"


@dataclass
class TestUser:
    """A user made for a test, with the secrets a test needs to sign in as them."""

    __test__ = False  # not a pytest test class

    id: uuid.UUID
    username: str
    password: str
    totp_secret: str | None
    last_step: int | None = None

    def code(self, clock: FrozenClock) -> str:
        """The current TOTP code, by the test's frozen clock."""
        assert self.totp_secret is not None, "the user has no TOTP"
        return totp.code_at(self.totp_secret, clock.now())


def make_user(
    session: Session,
    *,
    username: str,
    password: str = DEFAULT_PASSWORD,
    enrolled: bool = True,
    display_name: str | None = None,
    email: str | None = None,
) -> TestUser:
    """Create an active user with a password and, when ``enrolled``, a confirmed TOTP secret."""
    user = auth_service.create_user(
        session,
        principal=system_principal("tests"),
        username=username,
        display_name=display_name or username.title(),
        email=email,
        password=password,
    )
    secret = None
    if enrolled:
        secret = pyotp.random_base32(length=32)
        auth_service.enrol_totp_for_demo(session, user_id=user.id, secret=secret)
    return TestUser(id=user.id, username=user.username, password=password, totp_secret=secret)


def grant(
    session: Session,
    user: TestUser,
    role: Role,
    *,
    mission_id: uuid.UUID | None = None,
    include_children: bool = True,
) -> None:
    """Give ``user`` a role on a mission (None: the whole ministry), as the server itself."""
    access_service.grant_role(
        session,
        principal=system_principal("tests"),
        user_id=user.id,
        role=role,
        mission_id=mission_id,
        include_children=include_children and mission_id is not None,
    )


def next_code(user: TestUser, clock: FrozenClock) -> str:
    """A code not used yet: the current step, or the next one (accepted within the window)."""
    assert user.totp_secret is not None, "the user has no TOTP"
    step = totp.timecode_of(clock.now())
    if user.last_step is not None and user.last_step >= step:
        if user.last_step >= step + 1:
            clock.advance(seconds=totp.STEP_SECONDS)
            step = totp.timecode_of(clock.now())
        if user.last_step >= step:
            step = user.last_step + 1
    user.last_step = step
    return totp.code_at(user.totp_secret, step * totp.STEP_SECONDS)


def login(client: TestClient, clock: FrozenClock, user: TestUser) -> dict[str, object]:
    """Sign in through the API with password and a fresh TOTP code; returns the response body."""
    body: dict[str, object] = {"username": user.username, "password": user.password}
    if user.totp_secret is not None:
        body["totp_code"] = next_code(user, clock)
    response = client.post(LOGIN_PATH, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def login_headers(client: TestClient, clock: FrozenClock, user: TestUser) -> dict[str, str]:
    """Sign in through the API and return ``{"Authorization": "Bearer …"}``."""
    return bearer(str(login(client, clock, user)["token"]))


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}
