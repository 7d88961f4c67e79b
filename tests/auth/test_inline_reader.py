"""The event loop's reader: committed rows only, the same answers as SQLAlchemy, released."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import col, select

from secops.auth import callers, tokens
from secops.auth.models import User
from secops.core import inline
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Role
from secops.missions.models import MissionKind
from tests.factories.auth import TestUser, grant, login, make_user
from tests.factories.missions import make_mission


def test_the_reader_sees_committed_rows_only(sessions: SessionFactory) -> None:
    statement = select(col(User.username)).where(col(User.username) == "pending")
    session = sessions()
    try:
        reader = inline.reader_for(session)
        make_user(session, username="pending")
        session.flush()
        assert reader.rows(statement, {}) == []
        session.commit()
        assert [row.username for row in reader.rows(statement, {})] == ["pending"]
    finally:
        session.close()


def test_the_reader_and_the_session_read_the_same_caller(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory, alice: TestUser
) -> None:
    with sessions.begin() as s:
        hq = make_mission(s, "HQ", kind=MissionKind.HQ)
        a = make_mission(s, "EMB-A", parent=hq)
        make_mission(s, "CON-A1", parent=a)
        grant(s, alice, Role.OFFICER, mission_id=a.id, include_children=True)
        grant(s, alice, Role.AUDITOR)
    token = str(login(client, clock, alice)["token"])

    with sessions.begin() as s:
        fast = inline.reader_for(s).rows
        slow = callers.in_session(s)
        inline_view = callers.read_session(fast, tokens.digest(token))
        session_view = callers.read_session(slow, tokens.digest(token))
        assert inline_view is not None
        assert inline_view == session_view
        assert callers.roles_of(fast, inline_view.grants) == callers.roles_of(
            slow, inline_view.grants
        )
    assert inline_view.auth_time.tzinfo is not None
    assert {g.role for g in inline_view.grants} == {Role.OFFICER, Role.AUDITOR}


def test_the_reader_gives_its_connection_back_when_closed(sessions: SessionFactory) -> None:
    with sessions.begin() as s:
        reader = inline.reader_for(s)
    reader.rows(select(col(User.id)), {})
    held = sessions.engine.pool.checkedout()

    reader.close()

    assert sessions.engine.pool.checkedout() == held - 1
    assert reader.rows(select(col(User.id)), {}) == []  # and opens a new one when used again
