"""Fixtures for waiver tests: a small policy on disk, the standard ministry, people acting on it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, MissionSet, Principal, PrincipalKind, Role
from secops.missions.models import Mission
from secops.missions.scope import expand
from tests.factories.missions import Ministry, make_ministry

DATA = Path(__file__).parent / "data"
WAIVERS = "/api/v1/policy/waivers"
POLICY_ID = "waiver-test"
MFA_RULE = "MFA.ENABLED.1v1"
OWNER_RULE = "OWNER.SET.1v1"
REASON = "The platform offers no second factor for this account type yet."

ActAs = Callable[[Principal], None]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, reading policies from this directory's ``data/``."""
    return settings.model_copy(update={"policies_dir": DATA})


@pytest.fixture
def ministry(sessions: SessionFactory) -> Ministry:
    """HQ, EMB-PARIS (with CG-LYON under it), EMB-NAIROBI and PM-GENEVA-UN, committed."""
    with sessions.begin() as session:
        return make_ministry(session)


class People:
    """Named principals with fixed ids, so the same person can ask and later try to approve."""

    def __init__(self, sessions: SessionFactory, act_as: ActAs) -> None:
        self._sessions = sessions
        self._act_as = act_as
        self._made: dict[str, Principal] = {}

    def make(self, name: str, role: Role, mission: Mission | None) -> Principal:
        """A user holding ``role`` on ``mission`` and the missions below (None: everywhere)."""
        reach: MissionSet = EVERYWHERE
        if mission is not None:
            with self._sessions.begin() as session:
                reach = expand(session, [mission.id])
        principal = Principal(
            kind=PrincipalKind.USER, id=uuid.uuid4(), name=name, roles={role: reach}
        )
        self._made[name] = principal
        return principal

    def act(self, name: str) -> Principal:
        """Later requests run as ``name``."""
        principal = self._made[name]
        self._act_as(principal)
        return principal


@pytest.fixture
def people(sessions: SessionFactory, act_as: ActAs, ministry: Ministry) -> People:
    """Officers in Paris (Ana asks, Ben approves), a manager in Paris, an officer in Nairobi."""
    crowd = People(sessions, act_as)
    crowd.make("ana", Role.OFFICER, ministry.paris)
    crowd.make("ben", Role.OFFICER, ministry.paris)
    crowd.make("mia", Role.MANAGER, ministry.paris)
    crowd.make("nia", Role.OFFICER, ministry.nairobi)
    crowd.make("aud", Role.AUDITOR, ministry.paris)
    return crowd


def in_days(clock: FrozenClock, days: float) -> str:
    """An ISO timestamp ``days`` after the test clock's now."""
    return (clock.now() + timedelta(days=days)).isoformat()


def waiver_body(mission: Mission, clock: FrozenClock, **overrides: Any) -> dict[str, Any]:
    """A valid request: MFA rule, whole mission, 90 days."""
    body: dict[str, Any] = {
        "rule_id": MFA_RULE,
        "mission_id": str(mission.id),
        "reason": REASON,
        "expires_at": in_days(clock, 90),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def request_ok(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    """POST a request that must succeed; the waiver as returned."""
    response = client.post(WAIVERS, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def decide(
    client: TestClient, waiver_id: str, action: str, note: str | None = None
) -> tuple[int, dict[str, Any]]:
    """Read the waiver's ETag, then approve/reject/revoke it; (status, body)."""
    etag = client.get(f"{WAIVERS}/{waiver_id}").headers["ETag"]
    body = {"note": note} if note else {}
    response = client.post(f"{WAIVERS}/{waiver_id}/{action}", json=body, headers={"If-Match": etag})
    result: dict[str, Any] = response.json()
    return response.status_code, result


def parse(value: str) -> datetime:
    """An ISO timestamp from a response."""
    return datetime.fromisoformat(value)
