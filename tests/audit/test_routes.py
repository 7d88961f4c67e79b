"""``/api/v1/audit``: events scoped to the caller's missions, filters, paging, checkpoints."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from secops.audit import checkpoints
from secops.audit import service as audit_service
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Permission, Principal, PrincipalKind, Role
from tests.audit.conftest import auditor_everywhere, make_principal

ActAs = Callable[[Principal], None]
MISSION_A = uuid.uuid4()
MISSION_B = uuid.uuid4()
EVENT_KEYS = {
    "seq",
    "ts",
    "actor",
    "actor_id",
    "mission_id",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "request_id",
    "source_ip",
    "details",
    "leaf_hash",
    "chain_hash",
}


@pytest.fixture
def trail(sessions: SessionFactory, clock: FrozenClock) -> dict[str, list[int]]:
    """Events in mission A, mission B and ministry-wide, one minute apart; seqs by scope."""
    scopes: dict[str, list[int]] = {"a": [], "b": [], "none": []}
    admin = make_principal("admin", {Role.ADMIN: EVERYWHERE})
    plan = [("a", MISSION_A), ("b", MISSION_B), ("none", None)] * 4
    with sessions.begin() as s:
        for index, (scope, mission) in enumerate(plan):
            clock.advance(minutes=1)
            event = audit_service.record(
                s,
                principal=admin,
                action="account.update" if index % 2 else "account.create",
                object_type="account",
                object_id=f"acct-{index}",
                mission_id=mission,
                details={"password": "hunter2", "handle": f"@h{index}"},
            )
            scopes[scope].append(event.seq)
    return scopes


def auditor_of(*missions: uuid.UUID) -> Principal:
    return make_principal("mission-auditor", {Role.AUDITOR: frozenset(missions)})


def _seqs(body: dict[str, Any]) -> list[int]:
    return [item["seq"] for item in body["items"]]


def test_an_auditor_everywhere_reads_every_event_newest_first(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]]
) -> None:
    act_as(auditor_everywhere())
    response = client.get("/api/v1/audit/events")
    assert response.status_code == 200
    assert _seqs(response.json()) == list(range(12, 0, -1))
    item = response.json()["items"][0]
    assert set(item) == EVENT_KEYS
    assert item["details"]["password"] == "[redacted]"
    assert len(item["leaf_hash"]) == len(item["chain_hash"]) == 64


def test_a_mission_auditor_sees_only_that_missions_events(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]]
) -> None:
    act_as(auditor_of(MISSION_A))
    body = client.get("/api/v1/audit/events", params={"order": "oldest"}).json()
    assert _seqs(body) == trail["a"]
    assert {item["mission_id"] for item in body["items"]} == {str(MISSION_A)}


def test_ministry_wide_events_need_audit_read_everywhere(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]]
) -> None:
    act_as(auditor_of(MISSION_A, MISSION_B))
    body = client.get("/api/v1/audit/events", params={"limit": 200}).json()
    assert not set(_seqs(body)) & set(trail["none"])


@pytest.mark.parametrize("scope", ["b", "none"])
def test_an_out_of_scope_event_is_404_like_a_missing_one(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]], scope: str
) -> None:
    act_as(auditor_of(MISSION_A))
    hidden = client.get(f"/api/v1/audit/events/{trail[scope][0]}")
    missing = client.get("/api/v1/audit/events/999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == missing.json()["detail"]
    assert hidden.json()["type"] == missing.json()["type"]


def test_an_event_in_scope_is_read_by_its_seq(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]]
) -> None:
    act_as(auditor_of(MISSION_A))
    response = client.get(f"/api/v1/audit/events/{trail['a'][1]}")
    assert response.status_code == 200
    assert response.json()["seq"] == trail["a"][1]


def test_a_role_without_audit_read_is_forbidden(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]]
) -> None:
    act_as(make_principal("officer", {Role.OFFICER: EVERYWHERE}))
    assert client.get("/api/v1/audit/events").status_code == 403
    assert client.get(f"/api/v1/audit/events/{trail['a'][0]}").status_code == 403


def test_an_api_key_without_audit_read_in_its_scope_is_forbidden(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]]
) -> None:
    key = Principal(
        kind=PrincipalKind.API_KEY,
        id=uuid.uuid4(),
        name="siem",
        roles={Role.ADMIN: EVERYWHERE},
        allowed=frozenset({Permission.MISSIONS_READ}),
    )
    act_as(key)
    assert client.get("/api/v1/audit/events").status_code == 403


def test_anonymous_callers_are_refused(client: TestClient) -> None:
    assert client.get("/api/v1/audit/events").status_code == 401
    assert client.get("/api/v1/audit/checkpoints").status_code == 401


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "account.create"}, [1, 3, 5, 7, 9, 11]),
        ({"object_id": "acct-4"}, [5]),
        ({"object_type": "mission"}, []),
        ({"actor": "user:admin", "order": "oldest", "limit": 3}, [1, 2, 3]),
        ({"actor": "user:nobody"}, []),
    ],
)
def test_events_filter_on_action_object_and_actor(
    client: TestClient,
    act_as: ActAs,
    trail: dict[str, list[int]],
    params: dict[str, Any],
    expected: list[int],
) -> None:
    act_as(auditor_everywhere())
    body = client.get("/api/v1/audit/events", params={"order": "oldest", **params}).json()
    assert _seqs(body) == expected


def test_events_filter_on_a_time_window(
    client: TestClient, act_as: ActAs, clock: FrozenClock, trail: dict[str, list[int]]
) -> None:
    act_as(auditor_everywhere())
    end = clock.now()
    params = {
        "since": (end - timedelta(minutes=3)).isoformat(),  # events 9, 10, 11 and 12
        "until": end.isoformat(),  # exclusive: not event 12
        "order": "oldest",
    }
    assert _seqs(client.get("/api/v1/audit/events", params=params).json()) == [9, 10, 11]


def test_a_time_without_a_zone_is_rejected(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]]
) -> None:
    act_as(auditor_everywhere())
    response = client.get("/api/v1/audit/events", params={"since": "2026-01-15T09:00:00"})
    assert response.status_code == 422


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_pages_follow_the_cursor_without_gaps_or_repeats(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]], order: str
) -> None:
    act_as(auditor_everywhere())
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 5, "order": order}
    while True:
        body = client.get("/api/v1/audit/events", params=params).json()
        seen += _seqs(body)
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert sorted(seen) == list(range(1, 13))
    assert seen == sorted(seen, reverse=order == "newest")


def test_a_huge_limit_is_capped_not_refused(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]]
) -> None:
    act_as(auditor_everywhere())
    response = client.get("/api/v1/audit/events", params={"limit": 100_000})
    assert response.status_code == 200
    assert len(response.json()["items"]) == 12


@pytest.mark.parametrize("cursor", ["not-a-cursor", "WyJjaGVja3BvaW50cyIsMV0"])
def test_a_bad_or_foreign_cursor_is_a_400(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]], cursor: str
) -> None:
    act_as(auditor_everywhere())
    response = client.get("/api/v1/audit/events", params={"cursor": cursor})
    assert response.status_code == 400


def test_an_unknown_query_parameter_is_a_422(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]]
) -> None:
    act_as(auditor_everywhere())
    assert client.get("/api/v1/audit/events", params={"mission": "x"}).status_code == 422


def test_checkpoints_are_listed_largest_first_for_auditors_everywhere(
    client: TestClient, act_as: ActAs, sessions: SessionFactory, trail: dict[str, list[int]]
) -> None:
    with sessions.begin() as s:
        checkpoints.checkpoint_at(s, 6)
        checkpoints.create(s)
    act_as(auditor_everywhere())
    body = client.get("/api/v1/audit/checkpoints", params={"limit": 1}).json()
    assert [c["tree_size"] for c in body["items"]] == [12]
    assert set(body["items"][0]) == {
        "tree_size",
        "root_hash",
        "origin",
        "key_id",
        "signature",
        "note",
        "created_at",
    }
    rest = client.get("/api/v1/audit/checkpoints", params={"cursor": body["next_cursor"]})
    assert [c["tree_size"] for c in rest.json()["items"]] == [6]


def test_checkpoints_are_forbidden_to_mission_auditors(
    client: TestClient, act_as: ActAs, trail: dict[str, list[int]]
) -> None:
    act_as(auditor_of(MISSION_A))
    assert client.get("/api/v1/audit/checkpoints").status_code == 403
