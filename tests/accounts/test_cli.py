"""``secops accounts``: the CLI acts as the signed-in user over the API."""

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
from secops.accounts.models import Account, Person
from secops.cli import app as cli_app
from secops.cli import main
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Principal, Role
from tests.factories.accounts import make_account, make_person
from tests.factories.missions import Ministry, acting

ActAs = Callable[[Principal], None]


@pytest.fixture
def cli(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, act_as: ActAs
) -> CliRunner:
    """A runner whose HTTP calls reach the test app, signed in as a ministry-wide admin."""
    monkeypatch.setattr(secops.core.client, "http_factory", lambda _url: client)
    monkeypatch.setenv("SECOPS_API_KEY", "secops_s_test-token")
    monkeypatch.setenv("SECOPS_CREDENTIALS_FILE", str(tmp_path / "absent.json"))
    monkeypatch.setenv("COLUMNS", "200")
    act_as(acting({Role.ADMIN: EVERYWHERE}))
    return CliRunner()


@pytest.fixture
def staff(sessions: SessionFactory, ministry: Ministry) -> dict[str, Any]:
    with sessions.begin() as s:
        ada = make_person(s, ministry.paris, full_name="Ada Lovelace", email="ada@ministry.example")
        return {"ada": ada, "account": make_account(s, ministry.paris, handle="emb_paris")}


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["secops", *args])
    try:
        main()
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


def invoke(cli: CliRunner, *args: str) -> Any:
    result = cli.invoke(cli_app, ["accounts", *args])
    assert result.exit_code == 0, result.output
    return result


def test_add_resolves_mission_code_and_owner_email(
    cli: CliRunner, staff: dict[str, Any], sessions: SessionFactory
) -> None:
    result = invoke(
        cli,
        "add",
        "--platform",
        "instagram",
        "--handle",
        "@EmbParis",
        "--mission",
        "emb-paris",
        "--tier",
        "mission",
        "--kind",
        "institutional",
        "--owner",
        "ADA@ministry.example",
        "--json",
    )

    record = json.loads(result.output)
    assert record["handle"] == "embparis"
    assert record["mission_code"] == "EMB-PARIS"
    assert record["owner_id"] == str(staff["ada"].id)


def test_list_prints_a_table_with_evidence_age(cli: CliRunner, staff: dict[str, Any]) -> None:
    invoke(cli, "attest", "x:emb_paris", "--mfa-methods", "sms")

    result = invoke(cli, "list")

    assert "emb_paris" in result.output
    assert "phone_email" in result.output
    assert "today" in result.output
    assert "1 accounts" in result.output


def test_list_filters_and_json(cli: CliRunner, staff: dict[str, Any], ministry: Ministry) -> None:
    invoke(
        cli,
        "add",
        "--platform",
        "x",
        "--handle",
        "nairobi",
        "--mission",
        "EMB-NAIROBI",
        "--tier",
        "mission",
        "--kind",
        "institutional",
    )

    paris = json.loads(invoke(cli, "list", "--mission", "EMB-PARIS", "--json").output)
    missing = json.loads(invoke(cli, "list", "--mfa", "missing", "--json").output)
    limited = json.loads(invoke(cli, "list", "--limit", "1", "--json").output)

    assert [a["handle"] for a in paris] == ["emb_paris"]
    assert [a["handle"] for a in missing] == ["emb_paris", "nairobi"]
    assert len(limited) == 1


def test_show_by_platform_and_handle_prints_every_fact_with_its_source(
    cli: CliRunner, staff: dict[str, Any]
) -> None:
    invoke(
        cli,
        "attest",
        "x:@Emb_Paris",
        "--mfa-enabled",
        "yes",
        "--mfa-enforced",
        "no",
        "--mfa-methods",
        "fido2,totp",
        "--recovery-email",
        "press@gmail.com",
        "--carrier-lock",
        "yes",
        "--storage",
        "vault",
        "--holders",
        "ada@ministry.example",
        "--admin",
        "ada@ministry.example=owner",
        "--admin",
        "ext@agency.example",
        "--app",
        "Scheduler",
    )

    result = invoke(cli, "show", "x:emb_paris")

    for text in (
        "MFA",
        "phishing_resistant",
        "Recovery",
        "press@gmail.com",
        "Password handling",
        "vault",
        "Admins",
        "Ada Lovelace",
        "ext@agency.example",
        "Connected apps",
        "Scheduler",
        "attested, today",
    ):
        assert text in result.output, text


def test_attest_then_show_json_by_id(cli: CliRunner, staff: dict[str, Any]) -> None:
    account_id = str(staff["account"].id)
    invoke(
        cli, "attest", account_id, "--mfa-methods", "microsoftAuthenticatorPush", "--app", "none"
    )

    record = json.loads(invoke(cli, "show", account_id, "--json").output)

    assert record["mfa_strength"] == "app_push"
    assert record["apps"] == []
    assert [g["group"] for g in record["groups"]] == ["apps", "mfa_methods"]


def test_edit_sends_the_etag_it_read(
    cli: CliRunner, staff: dict[str, Any], sessions: SessionFactory
) -> None:
    invoke(cli, "edit", "x:emb_paris", "--status", "dormant", "--owner", "ada@ministry.example")
    invoke(cli, "edit", "x:emb_paris", "--in-registry", "yes", "--url", "none")

    with sessions.begin() as s:
        stored = s.get(Account, staff["account"].id)
        assert stored is not None
        assert (stored.status, stored.owner_id, stored.in_public_registry, stored.version) == (
            "dormant",
            staff["ada"].id,
            True,
            3,
        )


def test_edit_without_options_fails_with_one_line(
    staff: dict[str, Any],
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = run_main(["accounts", "edit", "x:emb_paris"], monkeypatch)

    assert code != 0
    assert capsys.readouterr().err.startswith("error: nothing to change")


def test_add_with_an_unknown_mission_fails_with_mission_not_found(
    staff: dict[str, Any],
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = run_main(
        [
            "accounts",
            "add",
            "--platform",
            "x",
            "--handle",
            "h",
            "--mission",
            "EMB-ATLANTIS",
            "--tier",
            "mission",
            "--kind",
            "institutional",
        ],
        monkeypatch,
    )

    assert code != 0
    assert "mission not found" in capsys.readouterr().err


def test_duplicate_add_prints_the_api_problem_on_one_line(
    staff: dict[str, Any],
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sessions: SessionFactory,
) -> None:
    code = run_main(
        [
            "accounts",
            "add",
            "--platform",
            "x",
            "--handle",
            "@EMB_PARIS",
            "--mission",
            "EMB-PARIS",
            "--tier",
            "mission",
            "--kind",
            "institutional",
        ],
        monkeypatch,
    )

    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("error: ")
    assert "platform, handle" in err
    assert err.count("\n") == 1


def test_show_of_an_account_out_of_reach_fails(
    staff: dict[str, Any],
    cli: CliRunner,
    act_as: ActAs,
    ministry: Ministry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    act_as(acting({Role.OFFICER: frozenset({ministry.nairobi.id})}))

    by_handle = run_main(["accounts", "show", "x:emb_paris"], monkeypatch)
    by_id = run_main(["accounts", "show", str(staff["account"].id)], monkeypatch)

    err = capsys.readouterr().err
    assert by_handle != 0
    assert by_id != 0
    assert "no account x:emb_paris" in err
    assert "No such account" in err


def test_attest_with_an_invalid_phone_fails_and_stores_nothing(
    staff: dict[str, Any],
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sessions: SessionFactory,
) -> None:
    code = run_main(
        ["accounts", "attest", "x:emb_paris", "--recovery-phone", "call me maybe"], monkeypatch
    )

    assert code != 0
    assert "call me maybe" not in capsys.readouterr().err
    with sessions.begin() as s:
        stored = s.get(Account, staff["account"].id)
        assert stored is not None
        assert stored.evidence_at is None
        assert s.get(Person, staff["ada"].id) is not None
