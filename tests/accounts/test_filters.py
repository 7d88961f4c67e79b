"""Listing accounts: every filter, every sort, and keyset pages that never overlap."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from secops.accounts import service
from secops.accounts.fact_schemas import MfaStateIn
from secops.accounts.models import AccountStatus, AccountTier, Platform
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Principal, system_principal
from tests.accounts.conftest import ACCOUNTS
from tests.factories.accounts import make_account, make_person
from tests.factories.missions import Ministry

ROOT = system_principal("tests")


def handles(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [a["handle"] for a in response.json()["items"]]


@pytest.fixture
def inventory(sessions: SessionFactory, ministry: Ministry) -> dict[str, Any]:
    """Six accounts across Paris, Lyon and Nairobi with owners, tiers and MFA evidence."""
    with sessions.begin() as s:
        ada = make_person(s, ministry.paris, full_name="Ada", email="ada@ministry.example")
        rows = {
            "amb_paris": make_account(
                s, ministry.paris, handle="amb_paris", tier=AccountTier.HEAD_OF_MISSION, owner=ada
            ),
            "emb_paris": make_account(s, ministry.paris, handle="emb_paris", display_name="Paris"),
            "paris_fb": make_account(
                s, ministry.paris, platform=Platform.FACEBOOK, handle="paris_fb"
            ),
            "lyon": make_account(s, ministry.lyon, handle="lyon", status=AccountStatus.DORMANT),
            "nairobi": make_account(s, ministry.nairobi, handle="nairobi"),
            "mail": make_account(
                s, ministry.paris, platform=Platform.MICROSOFT365, handle="press@ministry.example"
            ),
        }
        service.replace_mfa_methods(
            s, principal=ROOT, account_id=rows["amb_paris"].id, methods=["sms"], source="attested"
        )
        service.replace_mfa_methods(
            s,
            principal=ROOT,
            account_id=rows["emb_paris"].id,
            methods=["fido2", "sms"],
            source="attested",
        )
        service.set_mfa_state(
            s,
            principal=ROOT,
            account_id=rows["lyon"].id,
            state=MfaStateIn(mfa_enabled=False),
            source="attested",
        )
    return {"ada": ada, **rows}


def test_lists_every_visible_account_by_handle(
    client: TestClient, admin: Principal, inventory: dict[str, Any]
) -> None:
    assert handles(client.get(ACCOUNTS)) == [
        "amb_paris",
        "emb_paris",
        "lyon",
        "nairobi",
        "paris_fb",
        "press@ministry.example",
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"mission": "EMB-PARIS"},
            ["amb_paris", "emb_paris", "paris_fb", "press@ministry.example"],
        ),
        ({"platform": "facebook"}, ["paris_fb"]),
        ({"tier": "head_of_mission"}, ["amb_paris"]),
        ({"status": "dormant"}, ["lyon"]),
        ({"owner": "ADA@ministry.example"}, ["amb_paris"]),
        ({"mfa": "phishing_resistant"}, ["emb_paris"]),
        ({"mfa": "phone_email"}, ["amb_paris"]),
        ({"mfa": "none"}, ["lyon"]),
        ({"mfa": "missing"}, ["nairobi", "paris_fb", "press@ministry.example"]),
        ({"q": "PARIS"}, ["amb_paris", "emb_paris", "paris_fb"]),
        ({"handle": "@Emb_Paris", "platform": "x"}, ["emb_paris"]),
        ({"mission": "EMB-PARIS", "platform": "x"}, ["amb_paris", "emb_paris"]),
        ({"kind": "personal_official"}, []),
    ],
)
def test_filters_narrow_the_list(
    client: TestClient,
    admin: Principal,
    inventory: dict[str, Any],
    params: dict[str, str],
    expected: list[str],
) -> None:
    assert handles(client.get(ACCOUNTS, params=params)) == expected


def test_mission_filter_accepts_an_id(
    client: TestClient, admin: Principal, inventory: dict[str, Any], ministry: Ministry
) -> None:
    assert handles(client.get(ACCOUNTS, params={"mission": str(ministry.lyon.id)})) == ["lyon"]


def test_owner_filter_accepts_an_id(
    client: TestClient, admin: Principal, inventory: dict[str, Any]
) -> None:
    params = {"owner": str(inventory["ada"].id)}

    assert handles(client.get(ACCOUNTS, params=params)) == ["amb_paris"]


def test_unknown_mission_in_a_filter_is_404_mission_not_found(
    client: TestClient, admin: Principal, inventory: dict[str, Any]
) -> None:
    response = client.get(ACCOUNTS, params={"mission": "EMB-ATLANTIS"})

    assert response.status_code == 404
    assert "mission not found" in response.json()["detail"].lower()


def test_stale_lists_accounts_without_evidence_or_with_old_evidence(
    client: TestClient, admin: Principal, inventory: dict[str, Any], clock: FrozenClock
) -> None:
    clock.advance(timedelta(days=100))
    fresh_id = inventory["emb_paris"].id
    client.post(f"{ACCOUNTS}/{fresh_id}/attest", json={"mfa_methods": ["fido2"]})
    clock.advance(timedelta(days=90))

    default = handles(client.get(ACCOUNTS, params={"stale": True}))
    tighter = handles(client.get(ACCOUNTS, params={"stale": True, "stale_days": 30}))

    assert default == ["amb_paris", "lyon", "nairobi", "paris_fb", "press@ministry.example"]
    assert tighter == [*default[:1], "emb_paris", *default[1:]]


def test_list_rows_show_the_age_of_the_oldest_evidence(
    client: TestClient, admin: Principal, inventory: dict[str, Any], clock: FrozenClock
) -> None:
    clock.advance(timedelta(days=12, hours=5))

    rows = {a["handle"]: a for a in client.get(ACCOUNTS).json()["items"]}

    assert rows["amb_paris"]["age_days"] == 12
    assert rows["amb_paris"]["mfa_methods"] == ["sms"]
    assert rows["lyon"]["mfa"]["mfa_enabled"] is False
    assert rows["lyon"]["mfa"]["age_days"] == 12
    assert rows["nairobi"]["age_days"] is None


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (
            "-handle",
            ["press@ministry.example", "paris_fb", "nairobi", "lyon", "emb_paris", "amb_paris"],
        ),
        (
            "platform",
            ["paris_fb", "press@ministry.example", "amb_paris", "emb_paris", "lyon", "nairobi"],
        ),
        (
            "mission",
            ["lyon", "nairobi", "amb_paris", "emb_paris", "paris_fb", "press@ministry.example"],
        ),
        (
            "-mission",
            ["press@ministry.example", "paris_fb", "emb_paris", "amb_paris", "nairobi", "lyon"],
        ),
    ],
)
def test_sorts(
    client: TestClient,
    admin: Principal,
    inventory: dict[str, Any],
    sort: str,
    expected: list[str],
) -> None:
    assert handles(client.get(ACCOUNTS, params={"sort": sort})) == expected


def test_sort_by_updated_at_puts_the_last_change_last(
    client: TestClient, admin: Principal, inventory: dict[str, Any], clock: FrozenClock
) -> None:
    clock.advance(timedelta(minutes=5))
    client.patch(
        f"{ACCOUNTS}/{inventory['amb_paris'].id}",
        json={"status": "dormant"},
        headers={"If-Match": '"v1"'},
    )

    assert handles(client.get(ACCOUNTS, params={"sort": "updated_at"}))[-1] == "amb_paris"
    assert handles(client.get(ACCOUNTS, params={"sort": "-updated_at"}))[0] == "amb_paris"


@pytest.mark.parametrize("sort", ["handle", "-handle", "platform", "mission", "-updated_at"])
def test_pages_of_two_walk_the_whole_list_without_overlap(
    client: TestClient, admin: Principal, inventory: dict[str, Any], sort: str
) -> None:
    everything = handles(client.get(ACCOUNTS, params={"sort": sort}))
    walked: list[str] = []
    cursor = None
    while True:
        params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(ACCOUNTS, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        walked.extend(a["handle"] for a in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert walked == everything


def test_a_cursor_from_another_sort_or_garbage_is_400(
    client: TestClient, admin: Principal, inventory: dict[str, Any]
) -> None:
    cursor = client.get(ACCOUNTS, params={"limit": 2}).json()["next_cursor"]

    other_sort = client.get(ACCOUNTS, params={"sort": "platform", "cursor": cursor})
    garbage = client.get(ACCOUNTS, params={"cursor": "not-a-cursor"})

    assert other_sort.status_code == 400
    assert garbage.status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {"platform": "myspace"},
        {"sort": "password"},
        {"mfa": "strong"},
        {"stale_days": 0},
        {"colour": "red"},
    ],
)
def test_bad_query_parameters_are_422(
    client: TestClient, admin: Principal, inventory: dict[str, Any], params: dict[str, Any]
) -> None:
    assert client.get(ACCOUNTS, params=params).status_code == 422
