"""A waiver's life: requested, approved by a second person, expired or revoked, extended."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from secops.accounts.models import Account
from secops.audit.models import AuditEvent
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.policy.waivers import service
from secops.policy.waivers.index import ActiveWaiver
from tests.factories.accounts import make_account
from tests.factories.missions import Ministry
from tests.policy.waivers.conftest import (
    MFA_RULE,
    POLICY_ID,
    WAIVERS,
    People,
    decide,
    in_days,
    parse,
    request_ok,
    waiver_body,
)


@pytest.fixture
def paris_account(sessions: SessionFactory, ministry: Ministry) -> Account:
    with sessions.begin() as s:
        return make_account(s, ministry.paris, handle="emb_paris")


def covering(
    sessions: SessionFactory, clock: FrozenClock, account: Account, rule: str = MFA_RULE
) -> ActiveWaiver | None:
    """What a reader of findings would see for this account's result now."""
    with sessions.begin() as s:
        index = service.active_index(s, policy_id=POLICY_ID, now=clock.now())
        return index.waiver_for(rule, account.id, account.mission_id)


def approved(
    client: TestClient, people: People, body: dict[str, Any], asker: str = "ana"
) -> dict[str, Any]:
    people.act(asker)
    waiver = request_ok(client, body)
    people.act("ben")
    status, result = decide(client, waiver["id"], "approve", "Compensating control checked.")
    assert status == 200, result
    return result


def test_a_request_covers_nothing_until_another_person_approves_it(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
    paris_account: Account,
) -> None:
    people.act("ana")
    waiver = request_ok(client, waiver_body(ministry.paris, clock))

    assert waiver["state"] == "requested"
    assert waiver["policy_id"] == POLICY_ID
    assert waiver["requested_by_name"] == "ana"
    assert covering(sessions, clock, paris_account) is None

    people.act("ben")
    status, result = decide(client, waiver["id"], "approve", "Compensating control checked.")

    assert status == 200, result
    assert result["state"] == "active"
    assert result["approved_by_name"] == "ben"
    assert result["decision_note"] == "Compensating control checked."
    cover = covering(sessions, clock, paris_account)
    assert cover is not None
    assert cover.id == uuid.UUID(waiver["id"])
    assert cover.expires_at == parse(waiver["expires_at"])


def test_expiry_brings_the_failure_back_at_once(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
    paris_account: Account,
) -> None:
    waiver = approved(
        client, people, waiver_body(ministry.paris, clock, expires_at=in_days(clock, 30))
    )

    clock.advance(days=30, seconds=-1)
    assert covering(sessions, clock, paris_account) is not None
    assert client.get(f"{WAIVERS}/{waiver['id']}").json()["state"] == "active"

    clock.advance(seconds=1)
    assert covering(sessions, clock, paris_account) is None
    assert client.get(f"{WAIVERS}/{waiver['id']}").json()["state"] == "expired"


def test_revoking_brings_the_failure_back_at_once(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
    paris_account: Account,
) -> None:
    waiver = approved(client, people, waiver_body(ministry.paris, clock))
    assert covering(sessions, clock, paris_account) is not None

    people.act("mia")
    status, result = decide(client, waiver["id"], "revoke", "The platform now offers MFA.")

    assert status == 200, result
    assert (result["status"], result["state"]) == ("revoked", "revoked")
    assert result["closed_by_name"] == "mia"
    assert covering(sessions, clock, paris_account) is None


def test_a_rejected_request_never_covers(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
    paris_account: Account,
) -> None:
    people.act("ana")
    waiver = request_ok(client, waiver_body(ministry.paris, clock))
    people.act("mia")
    status, result = decide(client, waiver["id"], "reject", "Turn MFA on instead.")

    assert status == 200, result
    assert result["state"] == "rejected"
    status, again = decide(client, waiver["id"], "approve")
    assert status == 409, again
    assert covering(sessions, clock, paris_account) is None


def test_a_request_whose_expiry_passed_cannot_be_approved(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("ana")
    waiver = request_ok(client, waiver_body(ministry.paris, clock, expires_at=in_days(clock, 1)))
    clock.advance(days=2)

    people.act("ben")
    status, result = decide(client, waiver["id"], "approve")

    assert status == 409
    assert "expiry has already passed" in result["detail"]
    assert client.get(f"{WAIVERS}/{waiver['id']}").json()["state"] == "expired"


def test_extending_an_expired_waiver_goes_through_approval_again(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
    paris_account: Account,
) -> None:
    old = approved(
        client, people, waiver_body(ministry.paris, clock, expires_at=in_days(clock, 10))
    )
    clock.advance(days=11)
    assert covering(sessions, clock, paris_account) is None

    people.act("ana")
    response = client.post(f"{WAIVERS}/{old['id']}/extend", json={"expires_at": in_days(clock, 60)})
    assert response.status_code == 201, response.text
    extension = response.json()
    assert extension["state"] == "requested"
    assert extension["supersedes_id"] == old["id"]
    assert extension["reason"] == old["reason"]
    assert covering(sessions, clock, paris_account) is None

    status, refused = decide(client, extension["id"], "approve")
    assert status == 403
    assert refused["type"] == "urn:secops:problem:self-approval"

    people.act("ben")
    status, result = decide(client, extension["id"], "approve")
    assert status == 200, result
    cover = covering(sessions, clock, paris_account)
    assert cover is not None
    assert cover.id == uuid.UUID(extension["id"])
    assert client.get(f"{WAIVERS}/{old['id']}").json()["state"] == "superseded"


def test_an_active_waiver_keeps_covering_until_its_extension_is_approved(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
    paris_account: Account,
) -> None:
    old = approved(
        client, people, waiver_body(ministry.paris, clock, expires_at=in_days(clock, 20))
    )
    people.act("ana")
    first = client.post(f"{WAIVERS}/{old['id']}/extend", json={"expires_at": in_days(clock, 90)})
    assert first.status_code == 201, first.text
    second = client.post(f"{WAIVERS}/{old['id']}/extend", json={"expires_at": in_days(clock, 80)})
    assert second.status_code == 409
    assert "already awaits a decision" in second.json()["detail"]

    cover = covering(sessions, clock, paris_account)
    assert cover is not None
    assert cover.id == uuid.UUID(old["id"])

    people.act("ben")
    status, _ = decide(client, first.json()["id"], "approve")
    assert status == 200
    cover = covering(sessions, clock, paris_account)
    assert cover is not None
    assert cover.id == uuid.UUID(first.json()["id"])

    people.act("ana")
    again = client.post(f"{WAIVERS}/{old['id']}/extend", json={"expires_at": in_days(clock, 100)})
    assert again.status_code == 409
    assert "extend the newer one" in again.json()["detail"]


def test_only_approved_waivers_can_be_extended(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("ana")
    pending = request_ok(client, waiver_body(ministry.paris, clock))

    response = client.post(
        f"{WAIVERS}/{pending['id']}/extend", json={"expires_at": in_days(clock, 100)}
    )

    assert response.status_code == 409
    assert "Only an approved waiver can be extended" in response.json()["detail"]


def test_decisions_need_the_current_etag(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("ana")
    waiver = request_ok(client, waiver_body(ministry.paris, clock))
    people.act("ben")
    url = f"{WAIVERS}/{waiver['id']}/approve"

    missing = client.post(url, json={})
    stale = client.post(url, json={}, headers={"If-Match": '"v0"'})

    assert missing.status_code == 428
    assert stale.status_code == 412
    assert client.get(f"{WAIVERS}/{waiver['id']}").json()["state"] == "requested"


def test_every_change_is_audited_with_its_actor(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
) -> None:
    old = approved(client, people, waiver_body(ministry.paris, clock))
    people.act("ana")
    extension = client.post(
        f"{WAIVERS}/{old['id']}/extend", json={"expires_at": in_days(clock, 120)}
    ).json()
    people.act("ben")
    decide(client, extension["id"], "approve")
    people.act("mia")
    decide(client, extension["id"], "revoke", "No longer needed.")

    with sessions.begin() as s:
        query = select(AuditEvent).where(col(AuditEvent.object_type) == "policy_waiver")
        events = [(e.action, e.object_id, e.actor) for e in s.exec(query.order_by(AuditEvent.seq))]

    assert events == [
        ("waiver.request", old["id"], "user:ana"),
        ("waiver.approve", old["id"], "user:ben"),
        ("waiver.extend", extension["id"], "user:ana"),
        ("waiver.approve", extension["id"], "user:ben"),
        ("waiver.supersede", old["id"], "user:ben"),
        ("waiver.revoke", extension["id"], "user:mia"),
    ]


def test_audit_diff_shows_the_decision(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
) -> None:
    waiver = approved(client, people, waiver_body(ministry.paris, clock))

    with sessions.begin() as s:
        event = s.exec(
            select(AuditEvent).where(
                col(AuditEvent.action) == "waiver.approve",
                col(AuditEvent.object_id) == waiver["id"],
            )
        ).one()

    diff = event.details["diff"]
    assert diff["before"]["status"] == "requested"
    assert diff["after"]["status"] == "approved"
    assert diff["after"]["approved_at"] == (clock.now()).isoformat()
    assert event.mission_id == ministry.paris.id


def test_account_waiver_covers_only_the_accounts_it_lists(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
    paris_account: Account,
) -> None:
    with sessions.begin() as s:
        other = make_account(s, ministry.paris, handle="paris_other")
        lyon = make_account(s, ministry.lyon, handle="lyon_consulate")
    body = waiver_body(ministry.paris, clock, account_ids=[str(paris_account.id), str(lyon.id)])

    waiver = approved(client, people, body)

    assert {a["handle"] for a in waiver["accounts"]} == {"emb_paris", "lyon_consulate"}
    assert covering(sessions, clock, paris_account) is not None
    assert covering(sessions, clock, lyon) is not None
    assert covering(sessions, clock, other) is None
    assert covering(sessions, clock, paris_account, rule="OWNER.SET.1v1") is None


def test_list_filters_by_state_and_expiry(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    soon = approved(
        client, people, waiver_body(ministry.paris, clock, expires_at=in_days(clock, 5))
    )
    clock.advance(minutes=1)
    later = approved(client, people, waiver_body(ministry.paris, clock))
    clock.advance(minutes=1)
    people.act("ana")
    pending = request_ok(client, waiver_body(ministry.paris, clock, rule_id="OWNER.SET.1v1"))

    def ids(**params: Any) -> list[str]:
        response = client.get(WAIVERS, params=params)
        assert response.status_code == 200, response.text
        return [w["id"] for w in response.json()["items"]]

    assert ids() == [pending["id"], later["id"], soon["id"]]
    assert ids(state="active") == [later["id"], soon["id"]]
    assert ids(state="requested") == [pending["id"]]
    assert ids(expiring_within_days=7) == [soon["id"]]
    assert ids(rule_id="OWNER.SET.1v1") == [pending["id"]]
    clock.advance(days=6)
    assert ids(state="expired") == [soon["id"]]


def test_list_pages_with_a_cursor(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("ana")
    made = []
    for _ in range(5):
        made.append(request_ok(client, waiver_body(ministry.paris, clock))["id"])
        clock.advance(timedelta(minutes=1))

    first = client.get(WAIVERS, params={"limit": 2}).json()
    second = client.get(WAIVERS, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = client.get(WAIVERS, params={"limit": 2, "cursor": second["next_cursor"]}).json()

    seen = [w["id"] for page in (first, second, third) for w in page["items"]]
    assert seen == list(reversed(made))
    assert third["next_cursor"] is None
    assert client.get(WAIVERS, params={"cursor": "garbage"}).status_code == 400
