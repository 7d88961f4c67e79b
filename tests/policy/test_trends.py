"""Between runs each finding is new, regressed, unchanged or resolved; first_seen_at is carried."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Principal, Role
from secops.policy.outcomes import Change, ResultStatus
from secops.policy.trends import classify, count_changes, diff_statuses, first_seen, is_open
from tests.factories.missions import Ministry, acting, make_ministry
from tests.factories.policy import Inventory, attest, make_inventory, policies_dir

RUNS = "/api/v1/policy/runs"
ActAs = Callable[[Principal], None]
statuses = st.sampled_from([*list(ResultStatus), None])


# -- the classes, on their own ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "change"),
    [
        (None, "fail", Change.NEW),
        ("not_applicable", "manual", Change.NEW),
        ("pass", "fail", Change.REGRESSED),
        ("pass", "error", Change.REGRESSED),
        ("fail", "fail", Change.UNCHANGED),
        ("fail", "manual", Change.UNCHANGED),
        ("error", "pass", Change.RESOLVED),
        ("manual", "not_applicable", Change.RESOLVED),
        ("pass", "pass", None),
        (None, "not_applicable", None),
    ],
)
def test_each_change_class(before: str | None, after: str, change: Change | None) -> None:
    assert classify(before, after) is change


@given(statuses, st.sampled_from(list(ResultStatus)))
def test_a_finding_exists_exactly_when_open_now_or_before(
    before: ResultStatus | None, after: ResultStatus
) -> None:
    change = classify(before, after)

    assert (change is not None) == (is_open(before) or is_open(after))
    assert (change is Change.RESOLVED) == (is_open(before) and not is_open(after))


def test_first_seen_restarts_for_new_and_regressed_and_is_carried_otherwise(
    clock: FrozenClock,
) -> None:
    now, earlier = clock.now(), clock.now() - timedelta(days=9)

    assert first_seen(Change.NEW, carried=earlier, now=now) == now
    assert first_seen(Change.REGRESSED, carried=earlier, now=now) == now
    assert first_seen(Change.UNCHANGED, carried=earlier, now=now) == earlier
    assert first_seen(Change.RESOLVED, carried=earlier, now=now) == earlier


def test_diff_compares_the_later_runs_accounts_and_counts_every_class() -> None:
    a, b, gone = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    before = {a: {"R.ONE.1v1": "pass", "R.TWO.1v1": "fail"}, gone: {"R.ONE.1v1": "fail"}}
    after = {a: {"R.ONE.1v1": "fail", "R.TWO.1v1": "pass"}, b: {"R.ONE.1v1": "manual"}}

    entries = diff_statuses(before, after)

    assert {(e.account_id, e.rule_id, e.change) for e in entries} == {
        (a, "R.ONE.1v1", Change.REGRESSED),
        (a, "R.TWO.1v1", Change.RESOLVED),
        (b, "R.ONE.1v1", Change.NEW),
    }
    assert count_changes(entries) == {"new": 1, "regressed": 1, "unchanged": 0, "resolved": 1}


# -- across stored runs ----------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"policies_dir": policies_dir(tmp_path)})


@pytest.fixture
def ministry(sessions: SessionFactory) -> Ministry:
    with sessions.begin() as session:
        return make_ministry(session)


@pytest.fixture
def inventory(sessions: SessionFactory, ministry: Ministry) -> Inventory:
    with sessions.begin() as session:
        return make_inventory(session, ministry)


@pytest.fixture
def admin(act_as: ActAs) -> Principal:
    principal = acting({Role.ADMIN: EVERYWHERE}, name="root")
    act_as(principal)
    return principal


def run_now(client: TestClient) -> dict[str, Any]:
    response = client.post(RUNS, json={})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def finding(
    client: TestClient, run: dict[str, Any], handle: str, rule_id: str, **params: Any
) -> dict[str, Any] | None:
    items = client.get(f"{RUNS}/{run['id']}/findings", params={"rule_id": rule_id, **params})
    assert items.status_code == 200, items.text
    found = [i for i in items.json()["items"] if i["handle"] == handle]
    return found[0] if found else None


def test_second_run_classifies_unchanged_resolved_regressed_and_new(
    client: TestClient, admin: Principal, inventory: Inventory, sessions: SessionFactory,
    clock: FrozenClock,
) -> None:  # fmt: skip
    first = run_now(client)
    first_time = clock.now()
    clock.advance(days=2)
    with sessions.begin() as s:
        attest(s, inventory.paris_fb, recovery_email="embparis@mfa.example")  # fixed
        attest(s, inventory.paris_x, admins=[inventory.ada])  # now one admin: regressed
    second = run_now(client)

    unchanged = finding(client, second, "embparis", "MFA.ENABLED.1v1")
    resolved = finding(client, second, "embparis", "RECOVERY.DOMAIN.1v1", change="resolved")
    regressed = finding(client, second, "emb_paris", "ADMINS.NAMED.1v1")
    first_regressed = finding(client, first, "emb_paris", "ADMINS.NAMED.1v1")

    assert unchanged is not None
    assert unchanged["change"] == "unchanged"
    assert unchanged["previous_status"] == "fail"
    assert unchanged["first_seen_at"][:19] == first_time.isoformat()[:19]
    assert resolved is not None
    assert resolved["status"] == "pass"
    assert resolved["previous_status"] == "fail"
    assert resolved["first_seen_at"][:19] == first_time.isoformat()[:19]
    assert regressed is not None
    assert regressed["change"] == "regressed"
    assert regressed["first_seen_at"][:19] == clock.now().isoformat()[:19]
    assert first_regressed is None
    assert finding(client, second, "embparis", "RECOVERY.DOMAIN.1v1") is None  # not open now


def test_first_seen_is_carried_across_several_runs_while_the_finding_stays_open(
    client: TestClient, admin: Principal, inventory: Inventory, clock: FrozenClock
) -> None:
    run_now(client)
    opened = clock.now()
    for _ in range(3):
        clock.advance(days=7)
        latest = run_now(client)

    still_open = finding(client, latest, "amb_nairobi", "MFA.ENABLED.1v1")

    assert still_open is not None
    assert still_open["change"] == "unchanged"
    assert still_open["first_seen_at"][:19] == opened.isoformat()[:19]


def test_mfa_turned_off_since_the_previous_run_is_its_own_critical_finding(
    client: TestClient, admin: Principal, inventory: Inventory, sessions: SessionFactory,
    clock: FrozenClock,
) -> None:  # fmt: skip
    first = run_now(client)
    clock.advance(days=1)
    with sessions.begin() as s:
        attest(s, inventory.paris_x, mfa=False)
    second = run_now(client)

    turned_off = finding(client, second, "emb_paris", "MFA.NOTOFF.1v1")

    assert finding(client, first, "emb_paris", "MFA.NOTOFF.1v1") is None
    assert turned_off is not None
    assert (turned_off["status"], turned_off["severity"]) == ("fail", "critical")
    assert turned_off["change"] == "regressed"
    assert "turned off" in turned_off["reason"]
    # Off from the start is rule MFA.ENABLED's business, not a "turned off" finding.
    assert finding(client, second, "embparis", "MFA.NOTOFF.1v1") is None


def test_diff_between_two_runs_reports_each_class(
    client: TestClient, admin: Principal, inventory: Inventory, sessions: SessionFactory,
    clock: FrozenClock,
) -> None:  # fmt: skip
    first = run_now(client)
    clock.advance(days=1)
    with sessions.begin() as s:
        attest(s, inventory.paris_fb, mfa=True)
        attest(s, inventory.paris_x, recovery_email="someone@gmail.com")
    second = run_now(client)

    response = client.get("/api/v1/policy/diff", params={"from": first["id"], "to": second["id"]})

    assert response.status_code == 200, response.text
    body = response.json()
    moved = {(i["handle"], i["rule_id"]): i["change"] for i in body["items"]}
    assert moved == {
        ("embparis", "MFA.ENABLED.1v1"): "resolved",
        ("emb_paris", "RECOVERY.DOMAIN.1v1"): "regressed",
    }
    assert body["counts"]["resolved"] == body["counts"]["regressed"] == 1
    assert body["counts"]["new"] == 0
    assert body["counts"]["unchanged"] > 0
    assert (body["from_run"]["seq"], body["to_run"]["seq"]) == (1, 2)


def test_score_history_shows_each_run_oldest_first(
    client: TestClient, admin: Principal, inventory: Inventory, sessions: SessionFactory,
    ministry: Ministry, clock: FrozenClock,
) -> None:  # fmt: skip
    run_now(client)
    clock.advance(days=1)
    with sessions.begin() as s:
        attest(s, inventory.paris_fb, mfa=True, recovery_email="embparis@mfa.example")
    run_now(client)

    paris = client.get(
        "/api/v1/policy/scores/history", params={"mission_id": str(ministry.paris.id)}
    ).json()
    overall = client.get("/api/v1/policy/scores/history").json()

    scores = [p["score"]["score"] for p in paris["points"]]
    assert paris["mission_code"] == "EMB-PARIS"
    assert [p["run_seq"] for p in paris["points"]] == [1, 2]
    assert scores[1] > scores[0]
    assert [p["score"]["accounts"] for p in overall["points"]] == [4, 4]


def test_a_new_policy_version_that_reorders_and_adds_rules_keeps_each_findings_history(
    client: TestClient, admin: Principal, inventory: Inventory, settings: Settings,
    clock: FrozenClock,
) -> None:  # fmt: skip
    first = run_now(client)
    opened = clock.now()
    path = settings.effective_policies_dir / "runs-policy.yaml"
    policy = yaml.safe_load(path.read_text(encoding="utf-8"))
    policy["policy"]["version"] = "2"
    owner_rule = next(r for r in policy["rules"] if r["id"] == "ACCOUNT.OWNER.1v1")
    added_rule = {**copy.deepcopy(owner_rule), "id": "ACCOUNT.OWNER.2v1"}
    policy["rules"] = [added_rule, *reversed(policy["rules"])]
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    clock.advance(days=1)
    second = run_now(client)

    kept = finding(client, second, "amb_nairobi", "MFA.ENABLED.1v1")
    added = finding(client, second, "embparis", "ACCOUNT.OWNER.2v1")
    carried = finding(client, second, "embparis", "ACCOUNT.OWNER.1v1")

    assert (first["policy_version"], second["policy_version"]) == ("1", "2")
    assert kept is not None
    assert (kept["change"], kept["previous_status"]) == ("unchanged", "manual")
    assert kept["first_seen_at"][:19] == opened.isoformat()[:19]
    assert added is not None
    assert (added["change"], added["previous_status"]) == ("new", None)
    assert added["first_seen_at"][:19] == clock.now().isoformat()[:19]
    assert carried is not None
    assert carried["change"] == "unchanged"


def test_facts_that_did_not_change_show_their_age_at_each_run(
    client: TestClient, admin: Principal, inventory: Inventory, sessions: SessionFactory,
    clock: FrozenClock,
) -> None:  # fmt: skip
    run_now(client)
    clock.advance(days=5)
    unchanged = run_now(client)
    clock.advance(days=1)
    with sessions.begin() as s:
        attest(s, inventory.paris_fb, mfa=False, recovery_email="embparis@yahoo.com")
    changed = run_now(client)

    later = finding(client, unchanged, "embparis", "MFA.ENABLED.1v1")
    after = finding(client, changed, "embparis", "RECOVERY.DOMAIN.1v1")
    results = client.get(
        f"/api/v1/accounts/{inventory.paris_fb.id}/policy-results",
        params={"run_id": unchanged["id"]},
    )

    assert later is not None
    assert later["evidence"][0]["value"] is False
    assert later["evidence"][0]["age_days"] == 5
    assert after is not None
    assert after["evidence"][0]["value"] == "yahoo.com"
    assert after["evidence"][0]["age_days"] == 0
    assert results.status_code == 200, results.text
    by_rule = {r["rule_id"]: r for r in results.json()["results"]}
    assert by_rule["MFA.ENABLED.1v1"]["evidence"][0]["age_days"] == 5
    assert by_rule["ACCOUNT.REGISTRY.1v1"]["status"] == "fail"
