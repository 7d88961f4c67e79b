"""With the database down: liveness stays up, readiness and data routes answer 503, fail closed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from secops.auth import tokens
from secops.auth.access import tokens as key_tokens
from secops.auth.deps import current_principal
from tests.core.probes import PROBE_PREFIX, admin_principal, assert_problem, mount_probes

# Port 1 on the loopback: nothing listens, so every connection is refused at once.
NOTHING_LISTENS = "postgresql://secops:CANARY-db-password@127.0.0.1:1/secops"


@pytest.fixture
def down(client_with: Callable[..., TestClient]) -> Iterator[TestClient]:
    """A client for an app whose database does not answer, signed in as an admin."""
    client = client_with(database_url=NOTHING_LISTENS)
    app = mount_probes(client.app)  # type: ignore[arg-type]
    app.dependency_overrides[current_principal] = admin_principal
    with client:
        yield client


def test_liveness_stays_up_when_the_database_is_down(down: TestClient) -> None:
    response = down.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_reports_the_database_unreachable(down: TestClient) -> None:
    response = down.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{PROBE_PREFIX}/db", None),
        ("GET", f"{PROBE_PREFIX}/notes", None),
        ("POST", f"{PROBE_PREFIX}/notes", {"title": "t", "priority": 1}),
    ],
)
def test_a_request_that_needs_the_database_gets_503_problem(
    down: TestClient, method: str, path: str, body: object
) -> None:
    response = down.request(method, path, json=body)

    problem = assert_problem(response, 503)
    assert problem["type"] == "urn:secops:problem:database-unavailable"
    for leak in ("CANARY", "psycopg", "127.0.0.1", "OperationalError", "connection"):
        assert leak not in response.text


def _credentials() -> dict[str, str]:
    key, _ = key_tokens.new_token()
    return {
        "session": tokens.new_session_token(),
        "key": key,
        "key token": tokens.new_key_token(),
    }


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("kind", ["session", "key", "key token"])
def test_a_caller_that_cannot_be_read_gets_503_not_401(
    client_with: Callable[..., TestClient], method: str, kind: str
) -> None:
    token = _credentials()[kind]
    client = client_with(database_url=NOTHING_LISTENS)
    with client:
        response = client.request(
            method, "/api/v1/missions", json={}, headers={"Authorization": f"Bearer {token}"}
        )

    # Fail closed, and say why: a database that does not answer is no verdict on the credential.
    problem = assert_problem(response, 503)
    assert problem["type"] == "urn:secops:problem:database-unavailable"
    for leak in ("CANARY", "psycopg", "127.0.0.1", "OperationalError", "connection"):
        assert leak not in response.text
