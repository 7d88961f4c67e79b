"""Calls the connector tests make through the API, as a signed-in officer would."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from secops.missions.models import Mission
from tests.accounts.connectors import payloads as p

CONNECTORS = "/api/v1/connectors"
ACCOUNTS = "/api/v1/accounts"


def graph_body(mission: Mission, **overrides: Any) -> dict[str, Any]:
    """A valid Graph connector payload for ``mission``."""
    body: dict[str, Any] = {
        "kind": "microsoft_graph",
        "name": "Paris tenant",
        "mission_id": str(mission.id),
        "tenant_id": p.TENANT,
        "client_id": p.CLIENT,
        "secret": p.GRAPH_SECRET,
    }
    body.update(overrides)
    return body


def google_body(mission: Mission, key_file: str, **overrides: Any) -> dict[str, Any]:
    """A valid Google Workspace connector payload for ``mission``."""
    body: dict[str, Any] = {
        "kind": "google_workspace",
        "name": "Workspace",
        "mission_id": str(mission.id),
        "customer_id": p.CUSTOMER,
        "admin_subject": p.ADMIN_SUBJECT,
        "secret": key_file,
    }
    body.update(overrides)
    return body


def create(client: TestClient, body: dict[str, Any]) -> str:
    """POST a connector; its id."""
    response = client.post(CONNECTORS, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def sync(client: TestClient, connector_id: str) -> dict[str, Any]:
    """POST a sync; the run."""
    response = client.post(f"{CONNECTORS}/{connector_id}/sync")
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


def accounts(client: TestClient, platform: str) -> dict[str, dict[str, Any]]:
    """The visible accounts of a platform, by handle."""
    response = client.get(ACCOUNTS, params={"platform": platform, "limit": 200})
    assert response.status_code == 200, response.text
    return {a["handle"]: a for a in response.json()["items"]}


def detail(client: TestClient, account_id: str) -> dict[str, Any]:
    """One account with every fact group."""
    response = client.get(f"{ACCOUNTS}/{account_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found
