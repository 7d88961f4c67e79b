"""``secops policy``: evaluate and read runs, findings, scores and diffs over the API."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import secops.core.client
from secops.cli import app as cli_app
from secops.cli import main
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Principal, Role
from tests.factories.missions import Ministry, acting, make_ministry
from tests.factories.policy import Inventory, attest, make_inventory, policies_dir

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
def cli(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, act_as: ActAs
) -> CliRunner:
    """A runner whose HTTP calls reach the test app, signed in as a ministry-wide admin."""
    monkeypatch.setattr(secops.core.client, "http_factory", lambda _url: client)
    monkeypatch.setenv("SECOPS_API_KEY", "secops_s_test-token")
    monkeypatch.setenv("SECOPS_CREDENTIALS_FILE", str(tmp_path / "absent.json"))
    monkeypatch.setenv("COLUMNS", "250")
    act_as(acting({Role.ADMIN: EVERYWHERE}))
    return CliRunner()


def invoke(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(cli_app, ["policy", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(cli: CliRunner, *args: str) -> Any:
    return json.loads(invoke(cli, *args, "--json"))


def test_evaluate_prints_the_run_number_policy_and_score(
    cli: CliRunner, inventory: Inventory
) -> None:
    output = invoke(cli, "evaluate")

    assert "Run 1 of runs-test 1" in output
    assert "4 accounts, score" in output
    assert "completed" in output


def test_evaluate_for_a_mission_code_covers_that_mission_and_below(
    cli: CliRunner, inventory: Inventory
) -> None:
    run = as_json(cli, "evaluate", "--mission", "emb-paris", "--policy", "runs-test")

    assert run["summary"]["accounts"] == 3
    assert run["mission_id"] is not None


def test_findings_table_and_json_filter_by_severity_and_mission(
    cli: CliRunner, inventory: Inventory
) -> None:
    invoke(cli, "evaluate")

    table = invoke(cli, "findings", "--severity", "critical")
    items = as_json(cli, "findings", "--mission", "EMB-NAIROBI", "--status", "manual")

    assert "MFA.ENABLED.1v1" in table
    assert "facebook:embparis" in table
    assert "RECOVERY.DOMAIN.1v1" not in table  # high, filtered out
    assert items
    assert {(i["mission_code"], i["status"]) for i in items} == {("EMB-NAIROBI", "manual")}


def test_runs_scores_and_history(cli: CliRunner, inventory: Inventory, clock: FrozenClock) -> None:
    invoke(cli, "evaluate")
    clock.advance(days=1)
    invoke(cli, "evaluate")

    runs = as_json(cli, "runs")
    scores = invoke(cli, "scores", "--run", "1")
    history = as_json(cli, "history", "--mission", "EMB-PARIS")

    assert [r["seq"] for r in runs] == [2, 1]
    assert "EMB-PARIS" in scores
    assert "EMB-NAIROBI" in scores
    assert "waived results stay in the score" in scores
    assert [p["run_seq"] for p in history["points"]] == [1, 2]


def test_diff_between_run_numbers_lists_what_moved(
    cli: CliRunner, inventory: Inventory, sessions: SessionFactory, clock: FrozenClock
) -> None:
    invoke(cli, "evaluate")
    clock.advance(days=1)
    with sessions.begin() as s:
        attest(s, inventory.paris_fb, mfa=True)
    invoke(cli, "evaluate")

    output = invoke(cli, "diff", "1", "2")
    report = as_json(cli, "diff", "1", "2")

    assert "Run 1 → run 2" in output
    assert "resolved" in output
    assert [(i["handle"], i["rule_id"], i["change"]) for i in report["items"]] == [
        ("embparis", "MFA.ENABLED.1v1", "resolved")
    ]


def test_show_account_by_platform_and_handle_lists_every_rule_and_remediation(
    cli: CliRunner, inventory: Inventory
) -> None:
    invoke(cli, "evaluate")

    output = invoke(cli, "show", "facebook:@EmbParis")
    record = as_json(cli, "show", str(inventory.paris_fb.id))

    assert "MFA.ENABLED.1v1" in output
    assert "mfa.enabled=no (attested, 0 d)" in output
    assert "Turn on two-step verification" in output
    assert len(record["results"]) == 7


def test_list_shows_loaded_policies(cli: CliRunner) -> None:
    output = invoke(cli, "list")

    assert "runs-test" in output
    assert "Runs test policy" in output


def test_unknown_run_number_fails_with_a_readable_line(
    cli: CliRunner, inventory: Inventory, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["secops", "policy", "findings", "--run", "42"])

    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 1
    assert capsys.readouterr().err.strip() == "error: no run 42 that covered your missions"
