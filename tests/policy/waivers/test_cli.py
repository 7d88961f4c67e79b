"""``secops waivers``: the whole lifecycle from the command line, as the signed-in user."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import secops.core.client
from secops.accounts.models import Account
from secops.cli import app as cli_app
from secops.cli import main
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.policy.waivers import cli as waivers_cli
from secops.policy.waivers import service
from tests.factories.accounts import make_account
from tests.factories.missions import Ministry
from tests.policy.waivers.conftest import MFA_RULE, POLICY_ID, REASON, People


@pytest.fixture
def cli(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: FrozenClock
) -> CliRunner:
    """A runner whose HTTP calls reach the test app; "90d" counts from the test clock."""
    monkeypatch.setattr(secops.core.client, "http_factory", lambda _url: client)
    monkeypatch.setattr(waivers_cli, "clock", clock)
    monkeypatch.setenv("SECOPS_API_KEY", "secops_s_test-token")
    monkeypatch.setenv("SECOPS_CREDENTIALS_FILE", str(tmp_path / "absent.json"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


@pytest.fixture
def account(sessions: SessionFactory, ministry: Ministry) -> Account:
    with sessions.begin() as s:
        return make_account(s, ministry.paris, handle="emb_paris")


def waivers(cli: CliRunner, *args: str) -> Any:
    result = cli.invoke(cli_app, ["waivers", *args])
    assert result.exit_code == 0, result.output
    return result


def as_json(cli: CliRunner, *args: str) -> Any:
    return json.loads(waivers(cli, *args, "--json").output)


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["secops", *args])
    try:
        main()
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


def test_request_resolves_mission_code_account_handle_and_relative_expiry(
    cli: CliRunner, people: People, account: Account, clock: FrozenClock
) -> None:
    people.act("ana")

    record = as_json(
        cli,
        "request",
        "--rule",
        MFA_RULE,
        "--mission",
        "emb-paris",
        "--account",
        "x:@Emb_Paris",
        "--reason",
        REASON,
        "--expires",
        "90d",
    )

    assert record["mission_code"] == "EMB-PARIS"
    assert record["policy_id"] == POLICY_ID
    assert [a["handle"] for a in record["accounts"]] == ["emb_paris"]
    assert datetime.fromisoformat(record["expires_at"]) == clock.now() + timedelta(days=90)
    assert record["state"] == "requested"


def test_approve_list_show_extend_and_revoke(
    cli: CliRunner,
    people: People,
    account: Account,
    clock: FrozenClock,
    sessions: SessionFactory,
) -> None:
    people.act("ana")
    waiver = as_json(
        cli,
        "request",
        "--rule",
        MFA_RULE,
        "--mission",
        "EMB-PARIS",
        "--reason",
        REASON,
        "--expires",
        "2026-02-14",
    )
    assert datetime.fromisoformat(waiver["expires_at"]) == datetime(2026, 2, 14, tzinfo=UTC)

    people.act("ben")
    approved = as_json(cli, "approve", waiver["id"], "--note", "Checked the vault.")
    assert (approved["state"], approved["decision_note"]) == ("active", "Checked the vault.")

    table = waivers(cli, "list", "--state", "active").output
    assert "MFA.ENABLED.1v1" in table
    assert "EMB-PARIS" in table
    assert "1 waivers" in table
    detail = waivers(cli, "show", waiver["id"]).output
    assert REASON in detail
    assert "ben" in detail

    people.act("ana")
    extension = as_json(cli, "extend", waiver["id"], "--expires", "120d")
    assert extension["supersedes_id"] == waiver["id"]
    people.act("ben")
    as_json(cli, "approve", extension["id"])
    revoked = as_json(cli, "revoke", extension["id"], "--note", "MFA is on now.")
    assert revoked["state"] == "revoked"

    with sessions.begin() as s:
        index = service.active_index(s, policy_id=POLICY_ID, now=clock.now())
    assert index.waiver_for(MFA_RULE, account.id, account.mission_id) is None


def test_self_approval_prints_one_error_line(
    cli: CliRunner,
    people: People,
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    people.act("ana")
    waiver = as_json(
        cli,
        "request",
        "--rule",
        MFA_RULE,
        "--mission",
        "EMB-PARIS",
        "--reason",
        REASON,
        "--expires",
        "30d",
    )
    capsys.readouterr()

    code = run_main(["waivers", "approve", waiver["id"]], monkeypatch)

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1
    assert err[0].startswith("error: You requested this waiver")
    assert "(HTTP 403)" in err[0]


def test_an_expiry_past_the_cap_is_refused_with_the_place_named(
    cli: CliRunner,
    people: People,
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    people.act("ana")

    code = run_main(
        [
            "waivers",
            "request",
            "--rule",
            MFA_RULE,
            "--mission",
            "EMB-PARIS",
            "--reason",
            REASON,
            "--expires",
            "365d",
        ],
        monkeypatch,
    )

    err = capsys.readouterr().err
    assert code == 1
    assert "error: Waiver refused: expires_at: must be at most 180 days" in err


def test_a_bad_expiry_is_refused_before_calling_the_server(
    cli: CliRunner,
    people: People,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    people.act("ana")

    code = run_main(
        [
            "waivers",
            "request",
            "--rule",
            MFA_RULE,
            "--mission",
            "EMB-PARIS",
            "--reason",
            REASON,
            "--expires",
            "next spring",
        ],
        monkeypatch,
    )

    assert code == 1
    assert "--expires: give a date" in capsys.readouterr().err
