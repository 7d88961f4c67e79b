"""Policy runs through the API: evaluate, then read runs, findings, account results and scores."""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from secops.audit.models import AuditEvent
from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Principal, Role
from secops.policy import runs as runs_module
from secops.policy import service as policy_service
from secops.policy.models import PolicyAccountResult, PolicyFinding, PolicyRun
from tests.factories.missions import Ministry, acting, make_ministry
from tests.factories.policy import Inventory, make_inventory, policies_dir
from tests.factories.waivers import make_waiver

RUNS = "/api/v1/policy/runs"
FINDINGS = "/api/v1/policy/findings"
SCORES = "/api/v1/policy/scores"
ActAs = Callable[[Principal], None]


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The test settings, reading policies from a private copy of the runs test policy."""
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


def run_now(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(RUNS, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def findings(client: TestClient, path: str = FINDINGS, **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def one(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [i for i in items if all(i.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, items)
    return found[0]


def count(sessions: SessionFactory, table: type[Any]) -> int:
    with sessions.begin() as s:
        return int(s.exec(select(func.count()).select_from(table)).one())


def test_evaluate_records_policy_version_and_sha256_and_answers_201(
    client: TestClient, admin: Principal, inventory: Inventory, settings: Settings
) -> None:
    assert settings.policies_dir is not None
    sha256 = hashlib.sha256((settings.policies_dir / "runs-policy.yaml").read_bytes()).hexdigest()

    response = client.post(RUNS, json={})

    assert response.status_code == 201, response.text
    run = response.json()
    assert response.headers["Location"] == f"{RUNS}/{run['id']}"
    assert (run["seq"], run["status"], run["trigger"]) == (1, "completed", "manual")
    assert (run["policy_id"], run["policy_version"], run["policy_sha256"]) == (
        "runs-test",
        "1",
        sha256,
    )
    assert run["summary"]["accounts"] == 4
    assert client.get(f"{RUNS}/{run['id']}").json()["policy_sha256"] == sha256


def test_failing_result_has_reason_evidence_with_source_and_age_and_remediation(
    client: TestClient, admin: Principal, inventory: Inventory, clock: Any
) -> None:
    run_now(client)
    clock.advance(days=3)

    finding = one(findings(client), rule_id="MFA.ENABLED.1v1", handle="embparis")

    assert finding["status"] == "fail"
    assert finding["severity"] == "critical"
    assert "MFA" in finding["reason"]
    assert finding["remediation"].startswith("Turn on two-step verification")
    (evidence,) = finding["evidence"]
    assert evidence["field"] == "mfa.enabled"
    assert evidence["value"] is False
    assert (evidence["source"], evidence["recorded"], evidence["age_days"]) == ("attested", True, 0)
    assert finding["change"] == "new"
    assert finding["waiver"] is None


def test_facts_never_recorded_are_manual_and_a_refused_source_is_error_never_pass(
    client: TestClient, admin: Principal, inventory: Inventory
) -> None:
    run_now(client)
    items = findings(client, rule_id="MFA.ENABLED.1v1")

    nairobi = one(items, handle="amb_nairobi")
    lyon = one(items, handle="cg_lyon")

    assert nairobi["status"] == "manual"
    assert nairobi["evidence"][0]["recorded"] is False
    assert lyon["status"] == "error"
    assert "Authorization_RequestDenied" in lyon["reason"]
    assert lyon["evidence"][0]["status"] == "error"
    assert {i["handle"] for i in items} == {"embparis", "amb_nairobi", "cg_lyon"}


def test_account_results_list_every_rule_passes_and_not_applicable_included(
    client: TestClient, admin: Principal, inventory: Inventory
) -> None:
    run_now(client)

    response = client.get(f"/api/v1/accounts/{inventory.paris_x.id}/policy-results")

    assert response.status_code == 200, response.text
    body = response.json()
    statuses = {r["rule_id"]: r["status"] for r in body["results"]}
    assert statuses == {
        "MFA.ENABLED.1v1": "pass",
        "MFA.NOTOFF.1v1": "pass",
        "RECOVERY.DOMAIN.1v1": "pass",
        "MFA.PHISHRES.1v1": "not_applicable",
        "ADMINS.NAMED.1v1": "pass",
        "ACCOUNT.OWNER.1v1": "pass",
        "ACCOUNT.REGISTRY.1v1": "pass",
    }
    recovery = one(body["results"], rule_id="RECOVERY.DOMAIN.1v1")
    assert recovery["evidence"][0] == pytest.approx(
        recovery["evidence"][0] | {"field": "recovery.email_domain", "value": "mfa.example"}
    )
    assert body["score"]["score"] == 100.0
    assert (body["platform"], body["handle"]) == ("x", "emb_paris")


def test_findings_are_only_open_results_unless_resolved_are_asked_for(
    client: TestClient, admin: Principal, inventory: Inventory, sessions: SessionFactory
) -> None:
    run_now(client)

    items = findings(client, limit=200)

    assert {i["status"] for i in items} <= {"fail", "manual", "error"}
    assert not any(i["handle"] == "emb_paris" for i in items)
    assert len(items) == count(sessions, PolicyFinding)
    assert count(sessions, PolicyAccountResult) == 4


def test_findings_filter_by_severity_status_rule_mission_and_account(
    client: TestClient, admin: Principal, inventory: Inventory, ministry: Ministry
) -> None:
    run_now(client)

    critical = findings(client, severity="critical")
    manual = findings(client, status="manual")
    paris = findings(client, mission_id=str(ministry.paris.id))
    account = findings(client, account_id=str(inventory.nairobi_x.id), rule_id="ADMINS.NAMED.1v1")

    assert critical
    assert {i["severity"] for i in critical} == {"critical"}
    assert manual
    assert {i["status"] for i in manual} == {"manual"}
    assert paris
    assert {i["mission_code"] for i in paris} == {"EMB-PARIS"}
    assert [(i["handle"], i["rule_id"]) for i in account] == [("amb_nairobi", "ADMINS.NAMED.1v1")]


def test_findings_page_through_a_cursor_without_overlap(
    client: TestClient, admin: Principal, inventory: Inventory
) -> None:
    run_now(client)
    everything = findings(client, limit=200)

    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(FINDINGS, params=params).json()
        seen.extend((i["rule_id"], i["account_id"]) for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [(i["rule_id"], i["account_id"]) for i in everything]
    assert len(set(seen)) == len(seen) > 3


def test_bad_cursor_is_400_problem(
    client: TestClient, admin: Principal, inventory: Inventory
) -> None:
    run_now(client)

    response = client.get(FINDINGS, params={"cursor": "not-a-cursor"})

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_broken_policy_file_refuses_the_run_and_stores_nothing(
    client: TestClient, admin: Principal, inventory: Inventory, settings: Settings,
    sessions: SessionFactory,
) -> None:  # fmt: skip
    assert settings.policies_dir is not None
    (settings.policies_dir / "broken.yaml").write_text("policy: {id: broken\n")

    response = client.post(RUNS, json={})

    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "urn:secops:problem:policy-invalid"
    assert body["problems"][0]["path"].endswith("broken.yaml")
    assert count(sessions, PolicyRun) == count(sessions, PolicyFinding) == 0
    assert client.get("/api/v1/policies").status_code == 422


def test_unknown_policy_and_unknown_mission_are_404(
    client: TestClient, admin: Principal, inventory: Inventory
) -> None:
    unknown_policy = client.post(RUNS, json={"policy_id": "no-such-policy"})
    unknown_mission = client.post(RUNS, json={"mission_id": "00000000-0000-4000-8000-000000000000"})

    assert unknown_policy.status_code == 404
    assert "runs-test" in unknown_policy.json()["detail"]
    assert unknown_mission.status_code == 404


def test_one_audit_event_per_run_names_the_policy_file(
    client: TestClient, admin: Principal, inventory: Inventory, sessions: SessionFactory
) -> None:
    run = run_now(client)

    with sessions.begin() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "policy.evaluate")).all()

    assert len(events) == 1
    details = events[0].details
    assert events[0].object_id == run["id"]
    assert details["policy_sha256"] == run["policy_sha256"]
    assert details["policy_version"] == "1"
    assert details["accounts"] == 4
    assert details["fail"] == run["summary"]["failed"]


def test_manager_may_read_but_not_evaluate(
    client: TestClient, act_as: ActAs, inventory: Inventory
) -> None:
    act_as(acting({Role.MANAGER: EVERYWHERE}))

    assert client.post(RUNS, json={}).status_code == 403
    assert client.get(RUNS).status_code == 200


def test_runs_list_newest_first_and_find_a_run_by_number(
    client: TestClient, admin: Principal, inventory: Inventory
) -> None:
    first, second = run_now(client), run_now(client)

    listed = client.get(RUNS).json()["items"]
    by_number = client.get(RUNS, params={"seq": 1}).json()["items"]

    assert [r["id"] for r in listed] == [second["id"], first["id"]]
    assert [r["id"] for r in by_number] == [first["id"]]


def test_policies_lists_the_loaded_files_with_rule_counts(
    client: TestClient, admin: Principal
) -> None:
    listed = client.get("/api/v1/policies").json()
    detail = client.get("/api/v1/policies/runs-test").json()

    assert [(p["id"], p["version"], p["rule_count"]) for p in listed] == [("runs-test", "1", 7)]
    assert len(listed[0]["sha256"]) == 64
    assert [r["id"] for r in detail["rules"]][:2] == ["MFA.ENABLED.1v1", "MFA.NOTOFF.1v1"]
    assert client.get("/api/v1/policies/other").status_code == 404


def test_no_run_yet_is_404_with_what_to_do(
    client: TestClient, admin: Principal, inventory: Inventory
) -> None:
    response = client.get(FINDINGS)

    assert response.status_code == 404
    assert "secops policy evaluate" in response.json()["detail"]


def test_waived_finding_shows_its_waiver_beside_an_unchanged_score_until_it_expires(
    client: TestClient, admin: Principal, inventory: Inventory, ministry: Ministry,
    sessions: SessionFactory, clock: Any,
) -> None:  # fmt: skip
    run_now(client)
    before = client.get(SCORES).json()
    with sessions.begin() as s:
        waiver = make_waiver(
            s,
            ministry.paris,
            policy_id="runs-test",
            rule_id="MFA.ENABLED.1v1",
            accounts=[inventory.paris_fb],
            expires_in=timedelta(days=10),
        )

    waived = one(findings(client, rule_id="MFA.ENABLED.1v1"), handle="embparis")
    after = client.get(SCORES).json()
    only_waived = findings(client, waived="true")
    not_waived = findings(client, waived="false", limit=200)

    assert waived["waiver"]["id"] == str(waiver.id)
    assert waived["status"] == "fail"  # the result itself is never rewritten
    assert after["overall"]["score"] == before["overall"]["score"]
    assert (before["overall"]["waived"], after["overall"]["waived"]) == (0, 1)
    assert [(i["handle"], i["rule_id"]) for i in only_waived] == [("embparis", "MFA.ENABLED.1v1")]
    assert ("embparis", "MFA.ENABLED.1v1") not in {(i["handle"], i["rule_id"]) for i in not_waived}

    clock.advance(days=11)

    expired = one(findings(client, rule_id="MFA.ENABLED.1v1"), handle="embparis")
    assert expired["waiver"] is None
    assert client.get(SCORES).json()["overall"]["waived"] == 0


def test_scheduled_evaluation_covers_every_mission_as_the_worker(
    client: TestClient, admin: Principal, inventory: Inventory, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        run_ids = policy_service.evaluate_scheduled(s)

    (run,) = client.get(RUNS).json()["items"]
    assert [run["id"]] == [str(i) for i in run_ids]
    assert (run["trigger"], run["triggered_by"], run["mission_id"]) == ("scheduled", None, None)
    assert run["summary"]["accounts"] == 4


def test_scheduled_evaluation_stores_a_failed_run_when_evaluating_a_policy_breaks(
    client: TestClient, admin: Principal, inventory: Inventory, sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("facts unavailable")

    monkeypatch.setattr(runs_module, "load_facts", broken)

    with sessions.begin() as s:
        (run_id,) = policy_service.evaluate_scheduled(s)

    run = client.get(f"{RUNS}/{run_id}").json()
    assert (run["status"], run["error"]) == ("failed", "RuntimeError (see the log)")
    assert count(sessions, PolicyAccountResult) == 0
    with sessions.begin() as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "policy.evaluate")).one()
    assert event.outcome == "failure"


def test_account_never_evaluated_has_no_run_and_no_results(
    client: TestClient, admin: Principal, inventory: Inventory
) -> None:
    response = client.get(f"/api/v1/accounts/{inventory.paris_x.id}/policy-results")

    assert response.status_code == 200
    body = response.json()
    assert (body["run"], body["score"], body["results"]) == (None, None, [])
    assert body["handle"] == "emb_paris"


def test_the_garbage_collector_runs_again_after_an_evaluation_even_a_failed_one(
    client: TestClient, admin: Principal, inventory: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert gc.isenabled()
    run_now(client)
    assert gc.isenabled()

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        assert not gc.isenabled()  # paused while the run builds its rows
        raise RuntimeError("facts unavailable")

    monkeypatch.setattr(runs_module, "load_facts", broken)

    assert client.post(RUNS, json={}).status_code == 500
    assert gc.isenabled()
