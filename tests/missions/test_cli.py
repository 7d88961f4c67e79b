"""``secops missions``: the CLI acts as the signed-in user over the API."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import secops.core.client
from secops.cli import app as cli_app
from secops.cli import main
from secops.core.principal import EVERYWHERE, Principal, Role
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


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run the real entry point (the one that prints errors) and return its exit code."""
    monkeypatch.setattr(sys, "argv", ["secops", *args])
    try:
        main()
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


def test_list_prints_a_table_of_visible_missions(cli: CliRunner, ministry: Ministry) -> None:
    result = cli.invoke(cli_app, ["missions", "list"])

    assert result.exit_code == 0, result.output
    for code in ("HQ", "EMB-PARIS", "CG-LYON", "EMB-NAIROBI", "PM-GENEVA-UN"):
        assert code in result.output


def test_list_json_follows_every_page_and_filters(cli: CliRunner, ministry: Ministry) -> None:
    everything = cli.invoke(cli_app, ["missions", "list", "--json"])
    embassies = cli.invoke(cli_app, ["missions", "list", "--kind", "embassy", "--json"])
    first_two = cli.invoke(cli_app, ["missions", "list", "--limit", "2", "--json"])

    assert [m["code"] for m in json.loads(everything.output)] == [
        "CG-LYON",
        "EMB-NAIROBI",
        "EMB-PARIS",
        "HQ",
        "PM-GENEVA-UN",
    ]
    assert [m["code"] for m in json.loads(embassies.output)] == ["EMB-NAIROBI", "EMB-PARIS"]
    assert len(json.loads(first_two.output)) == 2


def test_list_shows_only_what_the_signed_in_user_may_see(
    cli: CliRunner, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(acting({Role.OFFICER: frozenset({ministry.nairobi.id})}))

    result = cli.invoke(cli_app, ["missions", "list", "--json"])

    assert [m["code"] for m in json.loads(result.output)] == ["EMB-NAIROBI"]


def test_create_then_show_by_code(cli: CliRunner, ministry: Ministry) -> None:
    created = cli.invoke(
        cli_app,
        [
            "missions",
            "create",
            "cg-geneva",
            "--name",
            "Consulate General in Geneva",
            "--kind",
            "consulate",
            "--country",
            "ch",
            "--city",
            "Geneva",
            "--region",
            "europe",
            "--parent",
            "PM-GENEVA-UN",
            "--json",
        ],
    )
    shown = cli.invoke(cli_app, ["missions", "show", "CG-GENEVA"])

    assert created.exit_code == 0, created.output
    record = json.loads(created.output)
    assert (record["code"], record["country"]) == ("CG-GENEVA", "CH")
    assert record["parent_id"] == str(ministry.geneva.id)
    assert shown.exit_code == 0, shown.output
    assert "Consulate General in Geneva" in shown.output
    assert record["id"] in shown.output


def test_show_by_id_as_json(cli: CliRunner, ministry: Ministry) -> None:
    result = cli.invoke(cli_app, ["missions", "show", str(ministry.lyon.id), "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["code"] == "CG-LYON"


def test_tree_draws_children_under_parents(cli: CliRunner, ministry: Ministry) -> None:
    drawn = cli.invoke(cli_app, ["missions", "tree"])
    as_json = cli.invoke(cli_app, ["missions", "tree", "--json"])

    assert drawn.exit_code == 0, drawn.output
    lines = drawn.output.splitlines()
    paris = next(i for i, line in enumerate(lines) if "EMB-PARIS" in line)
    assert "CG-LYON" in lines[paris + 1]
    assert lines[paris + 1].index("CG-LYON") > lines[paris].index("EMB-PARIS")
    [hq] = json.loads(as_json.output)
    under_hq = {c["code"]: c for c in hq["children"]}
    assert (hq["code"], sorted(under_hq)) == ("HQ", ["EMB-NAIROBI", "EMB-PARIS", "PM-GENEVA-UN"])
    assert [c["code"] for c in under_hq["EMB-PARIS"]["children"]] == ["CG-LYON"]


def test_tree_of_a_scoped_user_starts_at_the_missions_it_can_see(
    cli: CliRunner, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(acting({Role.OFFICER: frozenset({ministry.lyon.id, ministry.nairobi.id})}))

    result = cli.invoke(cli_app, ["missions", "tree", "--json"])

    assert [(r["code"], r["children"]) for r in json.loads(result.output)] == [
        ("CG-LYON", []),
        ("EMB-NAIROBI", []),
    ]


def test_show_unknown_code_fails_with_one_line(
    cli: CliRunner,
    ministry: Ministry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = run_main(["missions", "show", "EMB-ATLANTIS"], monkeypatch)

    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1
    assert err.startswith("error: no mission with code EMB-ATLANTIS")


def test_show_out_of_scope_id_fails_like_a_missing_one(
    cli: CliRunner,
    act_as: ActAs,
    ministry: Ministry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    act_as(acting({Role.OFFICER: frozenset({ministry.nairobi.id})}))

    code = run_main(["missions", "show", str(ministry.paris.id)], monkeypatch)

    assert code != 0
    assert capsys.readouterr().err == "error: No such mission. (HTTP 404)\n"


def test_create_refused_by_the_api_fails_with_one_line(
    cli: CliRunner,
    ministry: Ministry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["missions", "create", "EMB-PARIS", "--name", "Again", "--kind", "embassy"]
    args += ["--country", "FR", "--city", "Paris", "--region", "europe", "--parent", "HQ"]

    code = run_main(args, monkeypatch)

    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1
    assert err.startswith("error: Another mission already uses this code")
    assert "(HTTP 409)" in err


def test_commands_without_a_token_fail_with_one_line(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SECOPS_API_KEY")

    code = run_main(["missions", "list"], monkeypatch)

    assert code != 0
    assert capsys.readouterr().err.startswith("error: not signed in")
