"""Authorisation is atomic with the write it allows (ASVS 8.3.1, property 25).

A write re-reads its caller inside its own transaction with the rows it rests on locked: a
revoke that lands before that is seen (the write is refused, nothing is stored); one issued
while the write runs waits for it (PostgreSQL: ``FOR SHARE`` on the grants; SQLite: the write
lock of ``BEGIN IMMEDIATE``). Runs on both databases.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from secops.accounts import service as accounts_service
from secops.accounts.models import Account
from secops.accounts.schemas import AccountCreate
from secops.audit.models import AuditEvent
from secops.auth import callers
from secops.auth.access import service as access_service
from secops.auth.access.models import ApiKey, Grant
from secops.auth.models import UserSession
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory, clock_of
from secops.core.principal import Permission, Role, system_principal
from secops.missions.models import Mission, MissionKind
from tests.conftest import PG_URL
from tests.factories.auth import TestUser, login_headers, make_user
from tests.factories.missions import make_mission
from tests.security.callers import key_headers

API = "/api/v1"
ON_POSTGRES = PG_URL is not None


@dataclass(frozen=True)
class Desk:
    """An officer with one grant on mission A, signed in, and an API key of theirs."""

    a: Mission
    officer: TestUser
    grant_id: uuid.UUID
    headers: dict[str, str]
    key: dict[str, str]


@pytest.fixture
def desk(client: TestClient, clock: FrozenClock, sessions: SessionFactory) -> Desk:
    """Mission A and its officer."""
    with sessions.begin() as s:
        hq = make_mission(s, "HQ", kind=MissionKind.HQ)
        a = make_mission(s, "EMB-A", parent=hq)
        officer = make_user(s, username="officer-a")
        grant = access_service.grant_role(
            s,
            principal=system_principal("tests"),
            user_id=officer.id,
            role=Role.OFFICER,
            mission_id=a.id,
            include_children=False,
        )
        key = key_headers(s, officer.id, [Permission.ACCOUNTS_WRITE, Permission.ACCOUNTS_READ])
    return Desk(
        a=a,
        officer=officer,
        grant_id=grant.id,
        headers=login_headers(client, clock, officer),
        key=key,
    )


def _account(desk: Desk, handle: str) -> dict[str, Any]:
    return {
        "platform": "x",
        "handle": handle,
        "mission_id": str(desk.a.id),
        "tier": "mission",
        "kind": "institutional",
    }


def _accounts(sessions: SessionFactory) -> int:
    with sessions.begin() as s:
        return int(s.exec(select(func.count()).select_from(Account)).one())


def _revoke_grant(sessions: SessionFactory, grant_id: uuid.UUID) -> None:
    with sessions.begin() as s:
        access_service.revoke_grant(s, principal=system_principal("tests"), grant_id=grant_id)


def _revoke_key(sessions: SessionFactory) -> None:
    with sessions.begin() as s:
        key = s.exec(select(ApiKey)).one()
        key.revoked_at = clock_of(s).now()
        s.add(key)


@pytest.fixture
def after_first_read(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[Callable[[], None]], None]:
    """Run an action once, right after the caller's access was first read for a request."""
    pending: list[Callable[[], None]] = []

    def install(action: Callable[[], None]) -> None:
        pending.append(action)

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def read(*args: Any, **kwargs: Any) -> Any:
            view = original(*args, **kwargs)
            while pending:
                pending.pop()()
            return view

        return read

    monkeypatch.setattr(callers, "session_view", wrap(callers.session_view))
    monkeypatch.setattr(callers, "key_view", wrap(callers.key_view))
    return install


def test_grant_revoked_before_the_write_starts_refuses_it_and_stores_nothing(
    client: TestClient,
    sessions: SessionFactory,
    desk: Desk,
    after_first_read: Callable[[Callable[[], None]], None],
) -> None:
    before = _accounts(sessions)
    after_first_read(lambda: _revoke_grant(sessions, desk.grant_id))

    response = client.post(f"{API}/accounts", json=_account(desk, "late"), headers=desk.headers)

    assert response.status_code == 403
    assert _accounts(sessions) == before
    with sessions.begin() as s:
        refused = s.exec(select(AuditEvent).where(AuditEvent.action == "authz_fail")).all()
    assert [e.actor for e in refused] == ["user:officer-a"]


def test_key_revoked_before_the_write_starts_refuses_it_and_stores_nothing(
    client: TestClient,
    sessions: SessionFactory,
    desk: Desk,
    after_first_read: Callable[[Callable[[], None]], None],
) -> None:
    # Used a moment ago: its last use needs no refresh, so only the write path re-reads it.
    assert client.get(f"{API}/accounts", headers=desk.key).status_code == 200
    before = _accounts(sessions)
    after_first_read(lambda: _revoke_key(sessions))

    response = client.post(f"{API}/accounts", json=_account(desk, "late_key"), headers=desk.key)

    assert response.status_code == 401
    assert _accounts(sessions) == before


def test_a_read_is_answered_from_the_access_read_at_its_start(
    client: TestClient,
    sessions: SessionFactory,
    desk: Desk,
    after_first_read: Callable[[Callable[[], None]], None],
) -> None:
    # Reads take no locks and are not re-checked: the revoke applies from the next request.
    after_first_read(lambda: _revoke_grant(sessions, desk.grant_id))

    assert client.get(f"{API}/missions/{desk.a.id}", headers=desk.headers).status_code == 200
    assert client.get(f"{API}/missions/{desk.a.id}", headers=desk.headers).status_code == 403


@pytest.mark.parametrize("credential", ["session", "key"])
def test_revoke_issued_during_a_write_waits_until_the_write_commits(
    client: TestClient,
    sessions: SessionFactory,
    desk: Desk,
    monkeypatch: pytest.MonkeyPatch,
    credential: str,
) -> None:
    revoker = threading.Thread(target=_revoke_grant, args=(sessions, desk.grant_id))
    blocked: list[bool] = []
    create = accounts_service.create_account

    def create_while_revoking(*args: Any, **kwargs: Any) -> Any:
        # Inside the write's transaction, after its access was checked and locked.
        revoker.start()
        revoker.join(timeout=0.5)
        blocked.append(revoker.is_alive())
        return create(*args, **kwargs)

    monkeypatch.setattr(accounts_service, "create_account", create_while_revoking)
    headers = desk.headers if credential == "session" else desk.key

    response = client.post(f"{API}/accounts", json=_account(desk, "in_flight"), headers=headers)
    revoker.join(timeout=20)

    assert response.status_code == 201, response.text
    assert blocked == [True]  # the revoke could not commit while the write was running
    assert not revoker.is_alive()
    with sessions.begin() as s:
        grant = s.get(Grant, desk.grant_id)
        assert grant is not None
        assert grant.revoked_at is not None
        order = [
            e.action
            for e in s.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
            if e.action == "authz_grant_revoked" or e.object_type == "account"
        ]
    assert order[-1] == "authz_grant_revoked"
    assert len(order) == 2
    # The next write is refused: the revoke applied as soon as the first write committed.
    later = client.post(f"{API}/accounts", json=_account(desk, "after"), headers=headers)
    assert later.status_code == 403


def test_a_read_is_answered_while_another_write_holds_the_lock(
    client: TestClient, sessions: SessionFactory, desk: Desk
) -> None:
    created = client.post(f"{API}/accounts", json=_account(desk, "committed"), headers=desk.headers)
    assert created.status_code == 201, created.text
    writer = sessions()  # as a long import does: the write lock held, nothing committed yet
    try:
        accounts_service.create_account(
            writer,
            principal=system_principal("tests"),
            data=AccountCreate(**_account(desk, "in_flight")),
        )
        writer.flush()

        # On SQLite a GET used to queue behind the writer for busy_timeout, then fail with 503.
        listed = client.get(f"{API}/accounts", headers=desk.headers)

        assert listed.status_code == 200, listed.text
        assert [a["handle"] for a in listed.json()["items"]] == ["committed"]
    finally:
        writer.rollback()
        writer.close()


@pytest.mark.parametrize("credential", ["session", "key"])
def test_a_read_that_refreshes_its_last_use_holds_no_lock_while_it_runs(
    client: TestClient,
    clock: FrozenClock,
    sessions: SessionFactory,
    desk: Desk,
    monkeypatch: pytest.MonkeyPatch,
    credential: str,
) -> None:
    headers = desk.headers if credential == "session" else desk.key
    assert client.get(f"{API}/accounts", headers=headers).status_code == 200
    clock.advance(minutes=5)  # the session or key is now due a "last seen" refresh
    held: list[bool] = []
    real = accounts_service.list_accounts

    def watching(session: Any, **kwargs: Any) -> Any:
        driver: Any = session.connection().connection.driver_connection
        if session.get_bind().dialect.name == "sqlite":
            held.append(bool(driver.in_transaction))
        else:
            held.append(driver.info.transaction_status.name != "IDLE")
        return real(session, **kwargs)

    monkeypatch.setattr(accounts_service, "list_accounts", watching)

    assert client.get(f"{API}/accounts", headers=headers).status_code == 200

    assert held == [False]  # the refresh was committed before the route read the inventory
    with sessions.begin() as s:
        if credential == "session":
            seen = s.exec(select(UserSession.last_seen_at)).all()
        else:
            seen = s.exec(select(ApiKey.last_used_at)).all()
    assert clock.now() in seen


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's single write lock")
@pytest.mark.parametrize("credential", ["session", "key"])
def test_a_read_skips_its_last_use_refresh_while_a_long_write_holds_the_lock(
    client: TestClient,
    clock: FrozenClock,
    sessions: SessionFactory,
    desk: Desk,
    credential: str,
) -> None:
    headers = desk.headers if credential == "session" else desk.key
    assert client.get(f"{API}/accounts", headers=headers).status_code == 200
    clock.advance(minutes=2)  # due a refresh, far from the idle timeout
    writer = sessions()  # as a long import does: the write lock held
    try:
        writer.execute(select(Mission.id)).all()  # an ordinary session begins IMMEDIATE
        # Before, this read waited for the lock (busy_timeout, 10 s) only to refresh a stamp.
        assert client.get(f"{API}/accounts", headers=headers).status_code == 200
    finally:
        writer.rollback()
        writer.close()
    assert clock.now() not in _last_use(sessions, credential)  # skipped, not waited for
    assert client.get(f"{API}/accounts", headers=headers).status_code == 200
    assert clock.now() in _last_use(sessions, credential)  # the next read refreshes it


def _last_use(sessions: SessionFactory, credential: str) -> list[Any]:
    with sessions.begin() as s:
        if credential == "session":
            return list(s.exec(select(UserSession.last_seen_at)).all())
        return list(s.exec(select(ApiKey.last_used_at)).all())


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's single write lock")
def test_a_session_near_its_idle_timeout_waits_for_the_lock_to_refresh(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, desk: Desk
) -> None:
    assert client.get(f"{API}/accounts", headers=desk.headers).status_code == 200
    clock.advance(minutes=10)  # past half of the 15-minute idle timeout: the refresh must land
    writer = sessions()
    writer.execute(select(Mission.id)).all()  # holds the write lock
    release = threading.Timer(0.3, lambda: (writer.rollback(), writer.close()))
    release.start()
    try:
        assert client.get(f"{API}/accounts", headers=desk.headers).status_code == 200
    finally:
        release.join()
    assert clock.now() in _last_use(sessions, "session")  # it waited, then refreshed
