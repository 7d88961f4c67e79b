"""Fixtures for access tests: a small ministry (HQ, missions A and B) and its users."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from secops.auth.models import User
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import MissionSet, Principal, Role
from secops.missions.models import Mission, MissionKind
from tests.factories.access import make_grant, make_user, principal_with
from tests.factories.missions import make_mission


@dataclass(frozen=True)
class Ministry:
    """HQ with missions A and B; A has a child A1. ``root`` holds admin everywhere."""

    hq: Mission
    a: Mission
    a1: Mission
    b: Mission
    root: User
    alice: User
    bob: User


@pytest.fixture
def ministry(sessions: SessionFactory) -> Ministry:
    """The missions and users most access tests start from."""
    with sessions.begin() as s:
        hq = make_mission(s, "HQ", kind=MissionKind.HQ)
        a = make_mission(s, "EMB-A", parent=hq)
        a1 = make_mission(s, "CON-A1", parent=a)
        b = make_mission(s, "EMB-B", parent=hq)
        root = make_user(s, "root")
        make_grant(s, root, Role.ADMIN)
        alice, bob = make_user(s, "alice"), make_user(s, "bob")
    return Ministry(hq=hq, a=a, a1=a1, b=b, root=root, alice=alice, bob=bob)


@pytest.fixture
def as_user(act_as: Callable[[Principal], None], clock: FrozenClock) -> Callable[..., Principal]:
    """Act as a freshly signed-in user holding ``roles`` (stale=True: sign-in is old)."""

    def use(
        roles: dict[Role, MissionSet], *, user: User | None = None, stale: bool = False
    ) -> Principal:
        signed_in = clock.now().replace(year=2025) if stale else clock.now()
        principal = principal_with(roles, user_id=user.id if user else None, fresh=signed_in)
        act_as(principal)
        return principal

    return use
