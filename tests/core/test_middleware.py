"""Request ids, the body-size limit, CORS, docs in production and declared methods only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from secops.core.config import Environment
from secops.core.db import SessionFactory
from secops.core.middleware import BodySizeLimitMiddleware, parse_request_id
from tests.core.probes import PROBE_PREFIX, assert_problem, count_events

NOTE = {"title": "a note", "priority": 2}
EVIL = "https://evil.example"
FRIEND = "https://console.ministry.example"


def stored_notes(sessions: SessionFactory) -> int:
    session: Session
    with sessions.begin() as session:
        return count_events(session)


# Request id ---------------------------------------------------------------------------------


def test_incoming_uuid4_request_id_is_kept_and_echoed(probe: TestClient) -> None:
    request_id = str(uuid.uuid4())

    response = probe.get("/healthz", headers={"X-Request-ID": request_id})

    assert response.headers["x-request-id"] == request_id


@pytest.mark.parametrize(
    "incoming",
    [
        "not-a-uuid",
        str(uuid.uuid1()),
        "00000000-0000-0000-0000-000000000000",
        'x", "admin": true, "y": "',
        "a" * 5000,
    ],
    ids=["garbage", "uuid1", "nil", "json-injection", "huge"],
)
def test_other_request_ids_are_replaced_by_a_fresh_uuid4(probe: TestClient, incoming: str) -> None:
    response = probe.get("/healthz", headers={"X-Request-ID": incoming})

    echoed = response.headers["x-request-id"]
    assert echoed != incoming
    assert uuid.UUID(echoed).version == 4


def test_each_request_without_an_id_gets_its_own(probe: TestClient) -> None:
    ids = {probe.get("/healthz").headers["x-request-id"] for _ in range(5)}

    assert len(ids) == 5
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_parse_request_id_normalises_an_accepted_id() -> None:
    request_id = uuid.uuid4()

    assert parse_request_id(str(request_id).upper()) == str(request_id)


# Body-size limit ----------------------------------------------------------------------------


def test_body_over_the_limit_is_refused_with_413_and_nothing_stored(
    probe: TestClient, probe_sessions: SessionFactory
) -> None:
    before = stored_notes(probe_sessions)
    oversized = json.dumps({**NOTE, "title": "x" * 1_100_000}).encode()

    response = probe.post(
        f"{PROBE_PREFIX}/notes", content=oversized, headers={"content-type": "application/json"}
    )

    body = assert_problem(response, 413)
    assert "1048576" in body["detail"]
    assert stored_notes(probe_sessions) == before


def test_chunked_body_without_content_length_is_counted_and_refused(
    probe: TestClient, probe_sessions: SessionFactory
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(20):
            yield b"y" * 65_536
        yield b'", "priority": 1}'

    before = stored_notes(probe_sessions)
    response = probe.post(
        f"{PROBE_PREFIX}/notes", content=chunks(), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413)
    assert stored_notes(probe_sessions) == before


def test_chunked_body_under_the_limit_reaches_the_route(
    probe: TestClient, probe_sessions: SessionFactory
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "chunked", '
        yield b'"priority": 3}'

    before = stored_notes(probe_sessions)
    response = probe.post(
        f"{PROBE_PREFIX}/notes", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 201
    assert response.json()["title"] == "chunked"
    assert stored_notes(probe_sessions) == before + 1


def test_body_at_the_limit_is_accepted(client_with: Callable[..., TestClient]) -> None:
    client = client_with(max_body_bytes=2048)
    with client:
        response = client.request("DELETE", "/healthz", content=b"x" * 2048)
        refused = client.request("DELETE", "/healthz", content=b"x" * 2049)

    assert response.status_code == 405
    assert refused.status_code == 413


async def _run_limit(headers: list[tuple[bytes, bytes]]) -> list[Message]:
    sent: list[Message] = []
    reached = False

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal reached
        reached = True

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "path": "/x", "headers": headers, "state": {}}
    await BodySizeLimitMiddleware(inner, max_bytes=1024)(scope, receive, send)
    assert not reached
    return sent


def test_a_content_length_that_is_not_a_number_is_refused() -> None:
    import anyio

    sent = anyio.run(_run_limit, [(b"content-length", b"12abc")])

    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["detail"] == "Content-Length is not a number."


# CORS ---------------------------------------------------------------------------------------


def test_cors_answers_only_allow_listed_origins(client_with: Callable[..., TestClient]) -> None:
    client = client_with(cors_allow_origins=(FRIEND,))
    with client:
        friend = client.get("/healthz", headers={"Origin": FRIEND})
        evil = client.get("/healthz", headers={"Origin": EVIL})

    assert friend.headers["access-control-allow-origin"] == FRIEND
    assert "access-control-allow-credentials" not in friend.headers
    assert "access-control-allow-origin" not in evil.headers


def test_cors_preflight_from_an_unknown_origin_gets_no_allow_origin(
    client_with: Callable[..., TestClient],
) -> None:
    client = client_with(cors_allow_origins=(FRIEND,))
    preflight = {"Access-Control-Request-Method": "POST"}
    with client:
        evil = client.options(f"{PROBE_PREFIX}/notes", headers={"Origin": EVIL, **preflight})
        friend = client.options(f"{PROBE_PREFIX}/notes", headers={"Origin": FRIEND, **preflight})

    assert "access-control-allow-origin" not in evil.headers
    assert evil.status_code >= 400
    assert friend.headers["access-control-allow-origin"] == FRIEND
    assert "access-control-allow-credentials" not in friend.headers


def test_without_an_allow_list_no_origin_is_answered(probe: TestClient) -> None:
    response = probe.get("/healthz", headers={"Origin": EVIL})

    assert "access-control-allow-origin" not in response.headers


def test_wildcard_origin_is_never_combined_with_credentials(
    client_with: Callable[..., TestClient],
) -> None:
    client = client_with(cors_allow_origins=("*",))
    with client:
        response = client.get("/healthz", headers={"Origin": EVIL})

    assert "access-control-allow-credentials" not in response.headers


# Documentation and methods ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect"])
def test_production_serves_no_api_documentation(
    client_with: Callable[..., TestClient], path: str
) -> None:
    client = client_with(env=Environment.PRODUCTION, secret_key="k" * 40)
    with client:
        response = client.get(path)

    assert_problem(response, 404)


def test_development_serves_the_openapi_document(probe: TestClient) -> None:
    response = probe.get("/openapi.json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_undeclared_methods_get_405_with_allow(probe: TestClient, method: str) -> None:
    response = probe.request(method, f"{PROBE_PREFIX}/notes")

    assert_problem(response, 405)
    # GET and POST are two routes on one path; Allow names both.
    assert response.headers["allow"] == "GET, POST"


def test_trace_is_refused_everywhere(probe: TestClient) -> None:
    response = probe.request("TRACE", "/healthz", headers={"X-Secret-Probe": "echo-me"})

    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]
    assert "echo-me" not in response.text


def test_there_is_no_swagger_page_even_in_development(client: TestClient) -> None:
    # Swagger UI would load its scripts from a CDN: blocked by the CSP, absent when air-gapped.
    response = client.get("/docs")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/openapi.json").status_code == 200
