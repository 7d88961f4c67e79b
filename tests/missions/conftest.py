"""Fixtures for mission tests: the standard ministry and principals scoped to parts of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Principal, Role
from tests.factories.missions import Ministry, acting, make_ministry

URL = "/api/v1/missions"


@pytest.fixture
def ministry(sessions: SessionFactory) -> Ministry:
    """HQ, EMB-PARIS (with CG-LYON under it), EMB-NAIROBI and PM-GENEVA-UN, committed."""
    with sessions.begin() as session:
        return make_ministry(session)


@pytest.fixture
def admin(act_as: Callable[[Principal], None]) -> Principal:
    """Every request runs as a ministry-wide administrator."""
    principal = acting({Role.ADMIN: EVERYWHERE}, name="root")
    act_as(principal)
    return principal


def new_mission(**overrides: Any) -> dict[str, Any]:
    """A valid create payload (an embassy in Rome unless overridden)."""
    body: dict[str, Any] = {
        "code": "EMB-ROME",
        "name": "Embassy in Rome",
        "kind": "embassy",
        "country": "IT",
        "city": "Rome",
        "region": "europe",
    }
    body.update(overrides)
    return body


def read(client: TestClient, mission_id: object) -> tuple[dict[str, Any], str]:
    """GET a mission; return its body and ETag."""
    response = client.get(f"{URL}/{mission_id}")
    assert response.status_code == 200, response.text
    return response.json(), response.headers["ETag"]
