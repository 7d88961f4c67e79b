"""Mission scoping and roles: other missions' waivers answer like missing ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Principal, Role
from tests.factories.accounts import make_account
from tests.factories.missions import Ministry, acting
from tests.policy.waivers.conftest import WAIVERS, People, decide, in_days, request_ok, waiver_body

RANDOM = "00000000-0000-4000-8000-00000000abcd"


def strip(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in {"request_id", "instance"}}


@pytest.fixture
def paris_waiver(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> dict[str, Any]:
    people.act("ana")
    return request_ok(client, waiver_body(ministry.paris, clock))


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("POST", "/approve", {}),
        ("POST", "/reject", {}),
        ("POST", "/revoke", {}),
        ("POST", "/extend", {}),
    ],
)
def test_officer_of_another_mission_gets_404_like_a_random_id(
    client: TestClient,
    people: People,
    paris_waiver: dict[str, Any],
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    people.act("nia")
    headers = {"If-Match": '"v1"'}

    hidden = client.request(
        method, f"{WAIVERS}/{paris_waiver['id']}{suffix}", json=body, headers=headers
    )
    missing = client.request(method, f"{WAIVERS}/{RANDOM}{suffix}", json=body, headers=headers)

    assert hidden.status_code == missing.status_code == 404
    assert strip(hidden.json()) == strip(missing.json())


def test_lists_show_only_waivers_of_your_missions(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    paris_waiver: dict[str, Any],
) -> None:
    people.act("nia")
    nairobi = request_ok(client, waiver_body(ministry.nairobi, clock))

    nia_sees = [w["id"] for w in client.get(WAIVERS).json()["items"]]
    people.act("ana")
    ana_sees = [w["id"] for w in client.get(WAIVERS).json()["items"]]
    by_mission = client.get(WAIVERS, params={"mission_id": str(ministry.nairobi.id)}).json()

    assert nia_sees == [nairobi["id"]]
    assert ana_sees == [paris_waiver["id"]]
    assert by_mission["items"] == []


def test_requesting_on_a_mission_you_cannot_see_is_404(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("nia")

    response = client.post(WAIVERS, json=waiver_body(ministry.paris, clock))

    assert response.status_code == 404
    assert response.json()["detail"] == "Mission not found, or not one of yours."


def test_a_grant_on_a_mission_reaches_the_missions_below_it(
    client: TestClient, people: People, ministry: Ministry, clock: FrozenClock
) -> None:
    people.act("ana")
    lyon = request_ok(client, waiver_body(ministry.lyon, clock, include_children=True))
    people.make("leo", Role.OFFICER, ministry.lyon)
    people.act("leo")

    visible = [w["id"] for w in client.get(WAIVERS).json()["items"]]
    status, result = decide(client, lyon["id"], "approve")

    assert visible == [lyon["id"]]
    assert status == 200, result


def test_auditor_reads_but_may_neither_request_nor_decide(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    paris_waiver: dict[str, Any],
) -> None:
    people.act("aud")

    read = client.get(f"{WAIVERS}/{paris_waiver['id']}")
    asked = client.post(WAIVERS, json=waiver_body(ministry.paris, clock))
    approve = client.post(f"{WAIVERS}/{paris_waiver['id']}/approve", json={})

    assert read.status_code == 200
    assert (asked.status_code, approve.status_code) == (403, 403)


def test_manager_approves_and_revokes_but_may_not_request_or_extend(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    paris_waiver: dict[str, Any],
) -> None:
    people.act("mia")

    status, result = decide(client, paris_waiver["id"], "approve")
    asked = client.post(WAIVERS, json=waiver_body(ministry.paris, clock))
    extend = client.post(
        f"{WAIVERS}/{paris_waiver['id']}/extend", json={"expires_at": in_days(clock, 100)}
    )

    assert status == 200, result
    assert (asked.status_code, extend.status_code) == (403, 403)
    assert decide(client, paris_waiver["id"], "revoke")[0] == 200


def test_accounts_below_your_reach_are_listed_by_id_only(
    client: TestClient,
    people: People,
    ministry: Ministry,
    clock: FrozenClock,
    sessions: SessionFactory,
    act_as: Callable[[Principal], None],
) -> None:
    with sessions.begin() as s:
        paris = make_account(s, ministry.paris, handle="emb_paris")
        lyon = make_account(s, ministry.lyon, handle="cg_lyon")
    people.act("ana")
    body = waiver_body(ministry.paris, clock, account_ids=[str(paris.id), str(lyon.id)])
    waiver = request_ok(client, body)
    # An auditor of Paris alone, without the consulate below it.
    act_as(acting({Role.AUDITOR: frozenset({ministry.paris.id})}, name="narrow"))

    seen = client.get(f"{WAIVERS}/{waiver['id']}").json()["accounts"]

    assert sorted((a["id"], a["handle"]) for a in seen) == sorted(
        [(str(paris.id), "emb_paris"), (str(lyon.id), None)]
    )
