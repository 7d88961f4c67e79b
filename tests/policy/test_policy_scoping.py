"""An officer evaluates and reads only their own missions; other missions' runs are 404."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Principal, Role
from secops.missions.models import Mission
from secops.missions.scope import expand
from tests.factories.missions import Ministry, acting, make_ministry
from tests.factories.policy import Inventory, make_inventory, policies_dir

RUNS = "/api/v1/policy/runs"
FINDINGS = "/api/v1/policy/findings"
ActAs = Callable[[Principal], None]


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
def become(act_as: ActAs, sessions: SessionFactory) -> Callable[..., Principal]:
    """``become(Role.OFFICER, ministry.paris)``: later requests run as that role there (and
    below); ``become(Role.ADMIN)`` ministry-wide."""

    def switch(role: Role, *missions: Mission) -> Principal:
        if missions:
            with sessions.begin() as session:
                reach: Any = expand(session, [m.id for m in missions])
        else:
            reach = EVERYWHERE
        principal = acting({role: reach}, name=role.value)
        act_as(principal)
        return principal

    return switch


def run_now(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(RUNS, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_officer_evaluating_everything_gets_only_their_missions(
    client: TestClient, become: Callable[..., Principal], ministry: Ministry, inventory: Inventory
) -> None:
    become(Role.OFFICER, ministry.paris)

    run = run_now(client)

    assert run["summary"]["accounts"] == 3  # two in Paris, one in Lyon under it
    handles = {i["handle"] for i in client.get(FINDINGS, params={"limit": 200}).json()["items"]}
    assert handles == {"embparis", "cg_lyon"}
    become(Role.OFFICER, ministry.nairobi)
    assert client.get(f"{RUNS}/{run['id']}").status_code == 404
    assert client.get(RUNS).json()["items"] == []


def test_officer_never_sees_another_missions_findings_from_a_ministry_wide_run(
    client: TestClient, become: Callable[..., Principal], ministry: Ministry, inventory: Inventory
) -> None:
    become(Role.ADMIN)
    run = run_now(client)
    become(Role.OFFICER, ministry.paris)

    items = client.get(f"{RUNS}/{run['id']}/findings", params={"limit": 200}).json()["items"]
    scores = client.get("/api/v1/policy/scores").json()
    summary = client.get(f"{RUNS}/{run['id']}").json()["summary"]

    assert items
    assert {i["mission_code"] for i in items} == {"EMB-PARIS", "CG-LYON"}
    assert {m["mission_code"] for m in scores["missions"]} == {"EMB-PARIS", "CG-LYON"}
    assert scores["overall"]["accounts"] == summary["accounts"] == 3


def test_officer_gets_404_for_another_missions_account_results_and_mission_filter(
    client: TestClient, become: Callable[..., Principal], ministry: Ministry, inventory: Inventory
) -> None:
    become(Role.ADMIN)
    run = run_now(client)
    become(Role.OFFICER, ministry.paris)
    nairobi_results = f"/api/v1/accounts/{inventory.nairobi_x.id}/policy-results"

    latest = client.get(nairobi_results)
    in_run = client.get(nairobi_results, params={"run_id": run["id"]})
    unknown = client.get(f"/api/v1/accounts/{uuid.uuid4()}/policy-results")
    filtered = client.get(FINDINGS, params={"mission_id": str(ministry.nairobi.id)})
    history = client.get(
        "/api/v1/policy/scores/history", params={"mission_id": str(ministry.nairobi.id)}
    )

    assert latest.status_code == in_run.status_code == 404
    assert latest.json()["detail"] == in_run.json()["detail"] == unknown.json()["detail"]
    assert filtered.status_code == history.status_code == 404
    own = client.get(f"/api/v1/accounts/{inventory.paris_fb.id}/policy-results")
    assert own.status_code == 200


def test_officer_cannot_evaluate_another_mission_and_gets_the_same_404_as_unknown(
    client: TestClient, become: Callable[..., Principal], ministry: Ministry, inventory: Inventory
) -> None:
    become(Role.OFFICER, ministry.paris)

    other = client.post(RUNS, json={"mission_id": str(ministry.nairobi.id)})
    unknown = client.post(RUNS, json={"mission_id": "00000000-0000-4000-8000-000000000000"})

    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"] == unknown.json()["detail"]
    assert client.get(RUNS).json()["items"] == []


def test_a_run_that_covered_only_another_mission_is_404_with_its_findings_and_diffs(
    client: TestClient, become: Callable[..., Principal], ministry: Ministry, inventory: Inventory
) -> None:
    become(Role.ADMIN)
    nairobi_run = run_now(client, mission_id=str(ministry.nairobi.id))
    paris_run = run_now(client, mission_id=str(ministry.paris.id))
    become(Role.OFFICER, ministry.paris)

    assert client.get(f"{RUNS}/{nairobi_run['id']}").status_code == 404
    assert client.get(f"{RUNS}/{nairobi_run['id']}/findings").status_code == 404
    assert (
        client.get("/api/v1/policy/scores", params={"run_id": nairobi_run["id"]}).status_code == 404
    )
    diff = client.get(
        "/api/v1/policy/diff", params={"from": nairobi_run["id"], "to": paris_run["id"]}
    )
    assert diff.status_code == 404
    assert [r["id"] for r in client.get(RUNS).json()["items"]] == [paris_run["id"]]


def test_latest_findings_for_a_mission_come_from_the_newest_run_that_covered_it(
    client: TestClient, become: Callable[..., Principal], ministry: Ministry, inventory: Inventory
) -> None:
    become(Role.ADMIN)
    paris_run = run_now(client, mission_id=str(ministry.paris.id))
    run_now(client, mission_id=str(ministry.nairobi.id))

    paris = client.get(FINDINGS, params={"mission_id": str(ministry.paris.id)}).json()["items"]

    assert paris
    assert {i["run_id"] for i in paris} == {paris_run["id"]}
