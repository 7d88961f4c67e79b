"""Fixtures for inventory tests: the standard ministry, callers on parts of it, payload builders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Principal, Role
from secops.missions.models import Mission
from secops.missions.scope import expand
from tests.factories.missions import Ministry, acting, make_ministry

ACCOUNTS = "/api/v1/accounts"
PEOPLE = "/api/v1/people"

ActAs = Callable[[Principal], None]


@pytest.fixture
def ministry(sessions: SessionFactory) -> Ministry:
    """HQ, EMB-PARIS (with CG-LYON under it), EMB-NAIROBI and PM-GENEVA-UN, committed."""
    with sessions.begin() as session:
        return make_ministry(session)


@pytest.fixture
def admin(act_as: ActAs) -> Principal:
    """Every request runs as a ministry-wide administrator."""
    principal = acting({Role.ADMIN: EVERYWHERE}, name="root")
    act_as(principal)
    return principal


@pytest.fixture
def role_on(act_as: ActAs, sessions: SessionFactory) -> Callable[..., Principal]:
    """``role_on(Role.OFFICER, ministry.paris)``: later requests run as that role there
    (children included, as a grant with include_children does)."""

    def become(role: Role, *missions: Mission, name: str = "tester") -> Principal:
        with sessions.begin() as session:
            reach = expand(session, [m.id for m in missions])
        principal = acting({role: reach}, name=name)
        act_as(principal)
        return principal

    return become


def new_account(mission: Mission, **overrides: Any) -> dict[str, Any]:
    """A valid create payload: the X account of ``mission`` unless overridden."""
    body: dict[str, Any] = {
        "platform": "x",
        "handle": f"@{mission.code.replace('-', '_')}",
        "mission_id": str(mission.id),
        "tier": "mission",
        "kind": "institutional",
        "display_name": mission.name,
        "url": "https://x.com/example",
    }
    body.update(overrides)
    return body


def new_person(mission: Mission, **overrides: Any) -> dict[str, Any]:
    """A valid person payload on ``mission``."""
    body: dict[str, Any] = {
        "full_name": "Ada Lovelace",
        "email": "Ada.Lovelace@ministry.example",
        "mission_id": str(mission.id),
        "position": "Press attaché",
    }
    body.update(overrides)
    return body


def read(client: TestClient, url: str) -> tuple[dict[str, Any], str]:
    """GET an object; its body and ETag."""
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.json(), response.headers["ETag"]
