"""Bad input of every kind answers problem+json with a useful detail, and nothing is stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from secops.core.db import SessionFactory
from tests.core.probes import PROBE_PREFIX, assert_problem, count_events

NOTES = f"{PROBE_PREFIX}/notes"
JSON = {"content-type": "application/json"}


def stored(sessions: SessionFactory) -> int:
    with sessions.begin() as session:
        return count_events(session)


@pytest.mark.parametrize(
    ("content", "headers", "status", "detail"),
    [
        (b'{"title": "x", "priority": ', JSON, 422, "not valid JSON"),
        (b"", JSON, 422, "check body"),
        (b"[]", JSON, 422, "check body"),
        (b'{"title": "x", "priority": "high"}', JSON, 422, "body.priority"),
        (b'{"title": "x", "priority": 1.5}', JSON, 422, "body.priority"),
        (b'{"title": "x", "priority": 9}', JSON, 422, "body.priority"),
        (b'{"title": "", "priority": 1}', JSON, 422, "body.title"),
        (b'{"title": ["x"], "priority": 1}', JSON, 422, "body.title"),
        (b'{"title": "x", "priority": 1, "is_admin": true}', JSON, 422, "body.is_admin"),
        (b'{"title": "x", "priority": NaN}', JSON, 422, "body.priority"),
        (b'{"title": "x", "priority": 1}', {"content-type": "text/plain"}, 422, "check body"),
        (b"[" * 100_000, JSON, 400, "parsing the body"),
        (b'{"title": "x", "priority": ' + b"9" * 5000 + b"}", JSON, 400, "parsing the body"),
        (b'{"title": "\xff\xfe", "priority": 1}', JSON, 400, "parsing the body"),
        (b"x" * 1_048_577, JSON, 413, "exceeds the limit"),
    ],
    ids=[
        "malformed-json",
        "empty-body",
        "array-not-object",
        "string-for-int",
        "float-for-int",
        "out-of-range",
        "empty-string",
        "list-for-string",
        "unknown-field",
        "nan",
        "wrong-content-type",
        "deeply-nested",
        "huge-integer",
        "invalid-utf8",
        "oversized",
    ],
)
def test_bad_body_is_refused_and_nothing_is_stored(
    probe: TestClient,
    probe_sessions: SessionFactory,
    content: bytes,
    headers: dict[str, str],
    status: int,
    detail: str,
) -> None:
    before = stored(probe_sessions)

    response = probe.post(NOTES, content=content, headers=headers)

    problem = assert_problem(response, status)
    assert detail in problem["detail"]
    assert stored(probe_sessions) == before


@pytest.mark.parametrize(
    "note_id",
    ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g", "' OR 1=1 --", "%00"],
)
def test_bad_ids_are_refused_with_the_parameter_named(probe: TestClient, note_id: str) -> None:
    response = probe.get(f"{NOTES}/{note_id}")

    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {"loc": ["path", "note_id"], "msg": problem["errors"][0]["msg"], "type": "uuid_parsing"}
    ]
    assert "path.note_id" in problem["detail"]


def test_a_good_body_is_stored_once(probe: TestClient, probe_sessions: SessionFactory) -> None:
    before = stored(probe_sessions)

    response = probe.post(NOTES, json={"title": "x", "priority": 1})

    assert response.status_code == 201
    assert stored(probe_sessions) == before + 1
