"""A connector's secret is encrypted at rest and never appears in a response, a log or the audit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import respx
import structlog
from fastapi.testclient import TestClient
from sqlmodel import select

from secops.accounts.connectors.models import Connector
from secops.audit.models import AuditEvent
from secops.core import crypto
from secops.core.db import SessionFactory
from secops.core.principal import Principal, Role
from tests.accounts.connectors import payloads as p
from tests.accounts.connectors.api import CONNECTORS, create, google_body, graph_body
from tests.accounts.connectors.conftest import Naps
from tests.accounts.connectors.google_workspace import Workspace
from tests.accounts.connectors.graph_tenant import GraphTenant
from tests.factories.missions import Ministry

CANARY = p.GRAPH_SECRET


@pytest.fixture
def officer(ministry: Ministry, role_on: Callable[..., Principal]) -> Principal:
    """Requests run as an officer of the HQ (every mission below it)."""
    return role_on(Role.OFFICER, ministry.hq)


def _every_call(client: TestClient, connector: str) -> list[str]:
    """Each connector route, called once; their bodies."""
    return [
        client.get(CONNECTORS).text,
        client.get(f"{CONNECTORS}/{connector}").text,
        client.post(f"{CONNECTORS}/{connector}/test").text,
        client.post(f"{CONNECTORS}/{connector}/sync").text,
        client.get(f"{CONNECTORS}/{connector}/runs").text,
    ]


def _sqlite_files(database_url: str) -> list[Path]:
    if not database_url.startswith("sqlite:///"):
        return []
    path = Path(database_url.removeprefix("sqlite:///"))
    return [f for f in (path, path.with_name(path.name + "-wal")) if f.exists()]


def test_the_graph_secret_is_sealed_and_never_shown_or_logged(
    client: TestClient,
    ministry: Ministry,
    officer: Principal,
    vendors: respx.MockRouter,
    sessions: SessionFactory,
    database_url: str,
    no_waiting: Naps,
) -> None:
    GraphTenant().mount(vendors)
    vendors.get(url__startswith="https://graph.microsoft.com/v1.0/users?$select=id&$top=1").respond(
        200, json=p.graph_page([])
    )
    with structlog.testing.capture_logs() as logs:
        created = client.post(CONNECTORS, json=graph_body(ministry.paris))
        bodies = [created.text, *_every_call(client, created.json()["id"])]

    connector_id = uuid.UUID(created.json()["id"])
    assert all(CANARY not in body for body in bodies)
    assert {"connector.created", "connector.synced"} <= {e["event"] for e in logs}
    assert CANARY not in json.dumps(logs, default=str)
    with sessions.begin() as s:
        row = s.get(Connector, connector_id)
        assert row is not None
        assert CANARY.encode() not in row.secret
        plain = crypto.decrypt_field(
            s, table="connector", column="secret", row_id=connector_id, blob=row.secret
        )
        events = s.exec(select(AuditEvent)).all()
    assert plain == CANARY
    assert all(CANARY not in json.dumps(e.details, default=str) for e in events)
    for file in _sqlite_files(database_url):
        assert CANARY.encode() not in file.read_bytes(), file


def test_a_sealed_secret_does_not_open_on_another_row(
    client: TestClient, ministry: Ministry, officer: Principal, sessions: SessionFactory
) -> None:
    first = uuid.UUID(create(client, graph_body(ministry.paris)))
    second = uuid.UUID(create(client, graph_body(ministry.lyon, tenant_id="lyon.example")))
    with sessions.begin() as s:
        stolen = s.get(Connector, first)
        assert stolen is not None
        blob = stolen.secret

    with sessions.begin() as s, pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt_field(s, table="connector", column="secret", row_id=second, blob=blob)


def test_the_google_private_key_is_sealed_and_never_shown_or_logged(
    client: TestClient,
    ministry: Ministry,
    officer: Principal,
    vendors: respx.MockRouter,
    key_file: str,
    sessions: SessionFactory,
    no_waiting: Naps,
) -> None:
    Workspace().mount(vendors)
    vendors.get(url__regex=r"^https://admin\.googleapis\.com/admin/directory/v1/users\?").respond(
        200, json=p.directory_page([])
    )
    key_body = json.loads(key_file)["private_key"].splitlines()[5]
    with structlog.testing.capture_logs() as logs:
        created = client.post(CONNECTORS, json=google_body(ministry.hq, key_file))
        bodies = [created.text, *_every_call(client, created.json()["id"])]

    assert all(key_body not in body for body in bodies)
    assert {"connector.created", "connector.synced"} <= {e["event"] for e in logs}
    assert key_body not in json.dumps(logs, default=str)
    with sessions.begin() as s:
        row = s.get(Connector, uuid.UUID(created.json()["id"]))
        assert row is not None
        assert key_body.encode() not in row.secret
