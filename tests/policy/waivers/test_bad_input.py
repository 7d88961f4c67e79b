"""Bad waiver requests: a clear error naming the place, and nothing stored or audited."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import col, select

from secops.accounts.models import Account
from secops.audit.models import AuditEvent
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Role
from secops.policy.waivers.models import PolicyWaiver, PolicyWaiverAccount
from tests.factories.accounts import make_account
from tests.factories.missions import Ministry
from tests.policy.waivers.conftest import WAIVERS, People, decide, in_days, request_ok, waiver_body


@pytest.fixture
def accounts(sessions: SessionFactory, ministry: Ministry) -> dict[str, Account]:
    with sessions.begin() as s:
        return {
            "paris": make_account(s, ministry.paris, handle="emb_paris"),
            "nairobi": make_account(s, ministry.nairobi, handle="emb_nairobi"),
        }


@pytest.fixture
def nothing_stored(sessions: SessionFactory) -> Iterator[None]:
    """After the test: no waiver, no waiver account, no waiver audit event."""
    yield
    with sessions.begin() as s:
        assert s.exec(select(func.count()).select_from(PolicyWaiver)).one() == 0
        assert s.exec(select(func.count()).select_from(PolicyWaiverAccount)).one() == 0
        events = select(func.count()).where(col(AuditEvent.object_type) == "policy_waiver")
        assert s.exec(events).one() == 0


def refused(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(WAIVERS, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    result: dict[str, Any] = response.json()
    return result


def places(problem: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in problem["errors"]]


@pytest.mark.usefixtures("nothing_stored")
def test_a_waiver_without_expiry_is_refused(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("ana")
    body = waiver_body(ministry.paris, clock)
    del body["expires_at"]

    problem = refused(client, body)

    assert places(problem) == [["body", "expires_at"]]
    assert "input" not in problem["errors"][0]


@pytest.mark.usefixtures("nothing_stored")
def test_a_waiver_past_the_policy_cap_is_refused_naming_the_cap(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("ana")

    problem = refused(client, waiver_body(ministry.paris, clock, expires_at=in_days(clock, 181)))

    assert places(problem) == [["body", "expires_at"]]
    assert problem["errors"][0]["type"] == "expiry_over_cap"
    assert problem["detail"].startswith("Waiver refused: expires_at: must be at most 180 days")
    assert "waiver-test" in problem["detail"]


def test_the_cap_itself_is_allowed(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("ana")

    waiver = request_ok(client, waiver_body(ministry.paris, clock, expires_at=in_days(clock, 180)))

    assert waiver["days_left"] == 180


@pytest.mark.usefixtures("nothing_stored")
@pytest.mark.parametrize(
    ("expires_at", "kind"),
    [("past", "expiry_past"), ("now", "expiry_past"), ("naive", "timezone_aware")],
)
def test_an_expiry_not_in_the_future_or_without_zone_is_refused(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    expires_at: str,
    kind: str,
) -> None:
    people.act("ana")
    value = {
        "past": in_days(clock, -1),
        "now": clock.now().isoformat(),
        "naive": clock.now().replace(tzinfo=None).isoformat(),
    }[expires_at]

    problem = refused(client, waiver_body(ministry.paris, clock, expires_at=value))

    assert places(problem) == [["body", "expires_at"]]
    assert problem["errors"][0]["type"] == kind


@pytest.mark.usefixtures("nothing_stored")
def test_an_unknown_rule_is_refused(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("ana")

    problem = refused(client, waiver_body(ministry.paris, clock, rule_id="MFA.NOSUCH.1v1"))

    assert places(problem) == [["body", "rule_id"]]
    assert problem["detail"] == "Waiver refused: rule_id: policy waiver-test has no such rule"


@pytest.mark.usefixtures("nothing_stored")
def test_an_unknown_policy_is_refused(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("ana")

    problem = refused(client, waiver_body(ministry.paris, clock, policy_id="no-such-policy"))

    assert places(problem) == [["body", "policy_id"]]
    assert "waiver-test" in problem["errors"][0]["msg"]


@pytest.mark.usefixtures("nothing_stored")
def test_every_problem_is_reported_at_once(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    accounts: dict[str, Account],
) -> None:
    people.act("ana")
    body = waiver_body(
        ministry.paris,
        clock,
        rule_id="MFA.NOSUCH.1v1",
        expires_at=in_days(clock, 400),
        account_ids=[str(accounts["paris"].id), str(accounts["nairobi"].id)],
    )

    problem = refused(client, body)

    assert places(problem) == [
        ["body", "rule_id"],
        ["body", "expires_at"],
        ["body", "account_ids", 1],
    ]
    assert problem["detail"].endswith("(+2 more)")


@pytest.mark.usefixtures("nothing_stored")
def test_an_account_of_another_mission_is_refused_even_for_an_admin(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    accounts: dict[str, Account],
) -> None:
    people.make("root", Role.ADMIN, None)
    people.act("root")
    body = waiver_body(ministry.paris, clock, account_ids=[str(accounts["nairobi"].id)])

    problem = refused(client, body)

    assert places(problem) == [["body", "account_ids", 0]]
    assert "not an account of this mission" in problem["errors"][0]["msg"]


@pytest.mark.usefixtures("nothing_stored")
def test_an_account_the_requester_cannot_see_reads_like_one_outside_the_mission(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    accounts: dict[str, Account],
) -> None:
    people.act("ana")
    hidden = waiver_body(ministry.paris, clock, account_ids=[str(accounts["nairobi"].id)])
    random = waiver_body(
        ministry.paris, clock, account_ids=["00000000-0000-4000-8000-000000000001"]
    )

    first, second = refused(client, hidden), refused(client, random)

    assert first["errors"] == second["errors"]


@pytest.mark.usefixtures("nothing_stored")
@pytest.mark.parametrize(
    ("field", "value"),
    [("reason", "too short"), ("rule_id", "not a rule id"), ("include_children", "maybe")],
)
def test_malformed_fields_are_refused_by_name(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    field: str,
    value: str,
) -> None:
    people.act("ana")

    problem = refused(client, waiver_body(ministry.paris, clock, **{field: value}))

    assert places(problem) == [["body", field]]


def test_self_approval_is_refused_and_changes_nothing(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
) -> None:
    people.act("ana")
    waiver = request_ok(client, waiver_body(ministry.paris, clock))

    status, problem = decide(client, waiver["id"], "approve")

    assert status == 403
    assert problem["type"] == "urn:secops:problem:self-approval"
    assert "another person" in problem["detail"]
    after = client.get(f"{WAIVERS}/{waiver['id']}").json()
    assert (after["state"], after["version"], after["approved_by"]) == ("requested", 1, None)
    with sessions.begin() as s:
        approvals = select(func.count()).where(col(AuditEvent.action) == "waiver.approve")
        assert s.exec(approvals).one() == 0


def test_an_extension_without_expiry_or_not_later_is_refused(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
) -> None:
    people.act("ana")
    waiver = request_ok(client, waiver_body(ministry.paris, clock, expires_at=in_days(clock, 30)))
    people.act("ben")
    decide(client, waiver["id"], "approve")
    url = f"{WAIVERS}/{waiver['id']}/extend"

    missing = client.post(url, json={})
    earlier = client.post(url, json={"expires_at": in_days(clock, 20)})
    over_cap = client.post(url, json={"expires_at": in_days(clock, 200)})

    assert [r.status_code for r in (missing, earlier, over_cap)] == [422, 422, 422]
    assert [r.json()["errors"][0]["type"] for r in (missing, earlier, over_cap)] == [
        "missing",
        "expiry_not_later",
        "expiry_over_cap",
    ]
    with sessions.begin() as s:
        assert s.exec(select(func.count()).select_from(PolicyWaiver)).one() == 1
