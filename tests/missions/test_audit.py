"""Every change to a mission writes one audit event with its before/after; refusals write none."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import col, select

from secops.audit.models import AuditEvent, Outcome
from secops.core.db import SessionFactory
from secops.core.principal import Principal
from tests.factories.missions import Ministry
from tests.missions.conftest import URL, new_mission, read


def events(sessions: SessionFactory) -> list[AuditEvent]:
    with sessions.begin() as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))


def test_create_is_audited_with_the_new_values(
    client: TestClient, admin: Principal, sessions: SessionFactory, ministry: Ministry
) -> None:
    created = client.post(URL, json=new_mission(parent_id=str(ministry.hq.id))).json()

    [event] = events(sessions)
    assert event.action == "mission.create"
    assert (event.object_type, event.object_id) == ("mission", created["id"])
    assert str(event.mission_id) == created["id"]
    assert event.actor == "user:root"
    assert event.actor_id == admin.id
    assert event.outcome == Outcome.SUCCESS
    assert event.request_id is not None
    after = event.details["diff"]["after"]
    assert after["code"] == "EMB-ROME"
    assert after["parent_id"] == str(ministry.hq.id)
    assert event.details["diff"]["before"] == {}


def test_update_is_audited_with_before_and_after_of_changed_fields(
    client: TestClient, admin: Principal, sessions: SessionFactory, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.paris.id)
    client.patch(
        f"{URL}/{ministry.paris.id}",
        json={"name": "Embassy to France", "city": "Paris"},
        headers={"If-Match": etag},
    )

    [event] = events(sessions)
    assert event.action == "mission.update"
    assert event.mission_id == ministry.paris.id
    assert event.details["diff"] == {
        "changed": ["name"],
        "before": {"name": "Embassy in Paris"},
        "after": {"name": "Embassy to France"},
    }


def test_close_is_audited(
    client: TestClient, admin: Principal, sessions: SessionFactory, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.geneva.id)
    client.post(f"{URL}/{ministry.geneva.id}/close", headers={"If-Match": etag})

    [event] = events(sessions)
    assert event.action == "mission.close"
    assert event.mission_id == ministry.geneva.id
    assert event.details["diff"]["after"] == {"status": "closed"}


def test_refused_and_empty_changes_write_no_event(
    client: TestClient, admin: Principal, sessions: SessionFactory, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.paris.id)
    client.post(URL, json=new_mission(code="EMB-PARIS", parent_id=str(ministry.hq.id)))
    client.patch(f"{URL}/{ministry.paris.id}", json={"name": "x"}, headers={"If-Match": '"v9"'})
    client.patch(
        f"{URL}/{ministry.paris.id}",
        json={"parent_id": str(ministry.lyon.id)},
        headers={"If-Match": etag},
    )
    client.post(f"{URL}/{ministry.paris.id}/close", headers={"If-Match": etag})
    client.patch(f"{URL}/{ministry.paris.id}", json={}, headers={"If-Match": etag})

    assert events(sessions) == []
