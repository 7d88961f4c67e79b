"""Every error is RFC 9457 problem+json; nothing internal reaches the client."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from fastapi.testclient import TestClient

from secops.core.errors import ERROR_BY_STATUS
from tests.core.probes import PROBE_PREFIX, RAISED, assert_problem

CANARY = "CANARY-7c1e-do-not-echo"


@pytest.mark.parametrize("status", sorted(RAISED))
def test_each_error_class_renders_as_problem_json(probe: TestClient, status: int) -> None:
    response = probe.get(f"{PROBE_PREFIX}/raise/{status}")

    body = assert_problem(response, status)
    cls = RAISED[status]
    assert body["type"] == cls.type
    assert body["title"] == cls.title
    assert body["detail"] == f"Probe raised {cls.__name__}."


def test_too_many_requests_says_when_to_retry(probe: TestClient) -> None:
    response = probe.get(f"{PROBE_PREFIX}/raise/429")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"


def test_unauthenticated_names_the_bearer_scheme(probe: TestClient) -> None:
    response = probe.get(f"{PROBE_PREFIX}/raise/401")

    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/no/such/route", {}, 404),
        ("DELETE", "/healthz", {}, 405),
        ("TRACE", "/healthz", {}, 405),
        ("POST", f"{PROBE_PREFIX}/notes", {"content": b"x" * 2_000_000}, 413),
        ("POST", f"{PROBE_PREFIX}/notes", {"json": {"title": "t"}}, 422),
        ("GET", f"{PROBE_PREFIX}/crash", {}, 500),
    ],
    ids=["404-route", "405", "405-trace", "413", "422", "500"],
)
def test_framework_errors_share_the_same_problem_shape(
    probe: TestClient, method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    response = probe.request(method, path, **kwargs)  # type: ignore[arg-type]

    body = assert_problem(response, status)
    if status in ERROR_BY_STATUS:
        assert body["type"] == ERROR_BY_STATUS[status].type
        assert body["title"] == ERROR_BY_STATUS[status].title


def test_validation_error_lists_fields_but_never_the_submitted_values(probe: TestClient) -> None:
    response = probe.post(
        f"{PROBE_PREFIX}/notes",
        json={"title": CANARY, "priority": CANARY, "password": 12345, CANARY.lower(): 1},
    )

    body = assert_problem(response, 422)
    locations = {tuple(err["loc"]) for err in body["errors"]}  # type: ignore[union-attr]
    assert ("body", "priority") in locations
    assert ("body", "password") in locations
    for err in body["errors"]:  # type: ignore[union-attr]
        assert set(err) == {"loc", "msg", "type"}
    assert CANARY not in json.dumps({k: v for k, v in body.items() if k != "errors"})
    assert CANARY not in json.dumps([e["msg"] for e in body["errors"]])  # type: ignore[union-attr]
    assert "12345" not in response.text


def test_validation_error_on_a_missing_field_does_not_echo_the_whole_body(
    probe: TestClient,
) -> None:
    # FastAPI's default puts the entire body in ``input`` when a field is missing.
    response = probe.post(f"{PROBE_PREFIX}/notes", json={"password": CANARY})

    assert response.status_code == 422
    assert CANARY not in response.text


def test_malformed_json_is_reported_as_such(probe: TestClient) -> None:
    response = probe.post(
        f"{PROBE_PREFIX}/notes",
        content=b'{"title": "' + CANARY.encode() + b'", ',
        headers={"content-type": "application/json"},
    )

    body = assert_problem(response, 422)
    assert body["detail"] == "The request body is not valid JSON."
    assert CANARY not in response.text


def test_unhandled_exception_becomes_a_generic_500_with_the_request_id(
    probe: TestClient, log_output: io.StringIO
) -> None:
    request_id = str(uuid.uuid4())

    response = probe.get(f"{PROBE_PREFIX}/crash", headers={"X-Request-ID": request_id})

    body = assert_problem(response, 500)
    assert body["request_id"] == request_id
    assert body["type"] == "urn:secops:problem:internal"
    for leak in ("Traceback", "RuntimeError", "upstream", "CANARY", "probes.py"):
        assert leak not in response.text
    logged = [json.loads(line) for line in log_output.getvalue().splitlines()]
    crash = [e for e in logged if e["event"] == "http.unhandled_error"]
    assert len(crash) == 1
    assert crash[0]["request_id"] == request_id
    assert crash[0]["exception"][0]["exc_type"] == "RuntimeError"


def test_database_error_text_never_reaches_the_client(probe: TestClient) -> None:
    response = probe.get(f"{PROBE_PREFIX}/sql-crash")

    assert_problem(response, 500)
    for leak in ("SELECT", "secret_column", "ProgrammingError", "sqlalche.me"):
        assert leak not in response.text


def test_problem_schema_is_published_for_clients(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
