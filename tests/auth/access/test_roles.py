"""roles_for_user: live grants, children expanded at read time, ministry-wide → EVERYWHERE."""

from __future__ import annotations

from sqlmodel import select

from secops.audit.models import AuditEvent
from secops.auth.access import service as access_service
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Role, system_principal
from tests.factories.access import make_grant, make_user
from tests.factories.missions import make_mission


def test_user_without_grants_holds_no_role(sessions: SessionFactory) -> None:
    with sessions.begin() as s:
        user = make_user(s)
        assert access_service.roles_for_user(s, user_id=user.id) == {}


def test_grant_on_one_mission_reaches_that_mission_only(sessions: SessionFactory) -> None:
    with sessions.begin() as s:
        hq = make_mission(s)
        paris = make_mission(s, parent=hq)
        make_mission(s, parent=paris)
        user = make_user(s)
        make_grant(s, user, Role.OFFICER, paris)
        assert access_service.roles_for_user(s, user_id=user.id) == {
            Role.OFFICER: frozenset({paris.id})
        }


def test_grant_with_children_reaches_missions_added_later(sessions: SessionFactory) -> None:
    with sessions.begin() as s:
        hq = make_mission(s)
        paris = make_mission(s, parent=hq)
        user = make_user(s)
        make_grant(s, user, Role.RESPONDER, paris, include_children=True)
        lyon = make_mission(s, parent=paris)
        annex = make_mission(s, parent=lyon)
        roles = access_service.roles_for_user(s, user_id=user.id)
        assert roles == {Role.RESPONDER: frozenset({paris.id, lyon.id, annex.id})}


def test_ministry_wide_grant_reaches_everywhere(sessions: SessionFactory) -> None:
    with sessions.begin() as s:
        hq = make_mission(s)
        user = make_user(s)
        make_grant(s, user, Role.AUDITOR)
        make_grant(s, user, Role.OFFICER, hq)
        roles = access_service.roles_for_user(s, user_id=user.id)
        assert roles == {Role.AUDITOR: EVERYWHERE, Role.OFFICER: frozenset({hq.id})}


def test_grants_of_one_role_add_up(sessions: SessionFactory) -> None:
    with sessions.begin() as s:
        hq = make_mission(s)
        a, b = make_mission(s, parent=hq), make_mission(s, parent=hq)
        user = make_user(s)
        make_grant(s, user, Role.MANAGER, a)
        make_grant(s, user, Role.MANAGER, b)
        roles = access_service.roles_for_user(s, user_id=user.id)
        assert roles == {Role.MANAGER: frozenset({a.id, b.id})}


def test_revoked_grant_no_longer_counts(sessions: SessionFactory) -> None:
    with sessions.begin() as s:
        hq = make_mission(s)
        user = make_user(s)
        keeper = make_user(s)
        make_grant(s, keeper, Role.ADMIN)
        grant = make_grant(s, user, Role.OFFICER, hq)
        access_service.revoke_grant(s, principal=system_principal("tests"), grant_id=grant.id)
        assert access_service.roles_for_user(s, user_id=user.id) == {}
        actions = s.exec(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
        assert actions[-1] == "authz_grant_revoked"
        assert actions.count("authz_grant_added") == 2
