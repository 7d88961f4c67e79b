"""``secops accounts import|export`` as a user runs them, through the API."""

from __future__ import annotations

import stat
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
from tests.accounts.io.conftest import EXAMPLE_CSV, csv_file
from tests.factories.missions import Ministry, acting

ActAs = Callable[[Principal], None]
# The CLI gives imports a longer timeout; Starlette's TestClient ignores it and says so.
pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")


@pytest.fixture
def cli(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, act_as: ActAs
) -> CliRunner:
    """A runner whose HTTP calls reach the test app, signed in as a ministry-wide officer."""
    monkeypatch.setattr(secops.core.client, "http_factory", lambda _url: client)
    monkeypatch.setenv("SECOPS_API_KEY", "secops_s_test-token")
    monkeypatch.setenv("SECOPS_CREDENTIALS_FILE", str(tmp_path / "absent.json"))
    monkeypatch.setenv("COLUMNS", "200")
    act_as(acting({Role.OFFICER: EVERYWHERE}))
    return CliRunner()


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run the real entry point (the one that prints errors) and return its exit code."""
    monkeypatch.setattr(sys, "argv", ["secops", *args])
    try:
        main()
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


def test_import_shows_its_progress_and_a_summary(cli: CliRunner, ministry: Ministry) -> None:
    result = cli.invoke(cli_app, ["accounts", "import", str(EXAMPLE_CSV), "--progress"])

    assert result.exit_code == 0, result.output
    assert "Uploading" in result.stderr
    assert "Checking and storing every row" in result.stderr
    assert "6 rows were imported" in result.stdout
    assert "Stored in one transaction." in result.stdout


def test_a_dry_run_lists_what_would_change(cli: CliRunner, ministry: Ministry) -> None:
    result = cli.invoke(cli_app, ["accounts", "import", str(EXAMPLE_CSV), "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "x/ambassadorparis" in result.stdout
    assert "Nothing was stored (dry run)." in result.stdout
    again = cli.invoke(cli_app, ["accounts", "export"])
    assert "ambassadorparis" not in again.stdout


def test_a_refused_file_lists_its_problems_and_fails(
    cli: CliRunner,
    ministry: Ministry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "inventory.csv"
    path.write_text(
        csv_file(
            "platform,handle,mission,tier,kind",
            "x,@a,EMB-PARIS,mission,institutional",
            "x,@b,EMB-PARIS,ambasador,institutional",
            "x,@c,EMB-NOWHERE,mission,institutional",
        )
    )

    code = run_main(["accounts", "import", str(path)], monkeypatch)

    err = capsys.readouterr().err
    assert code == 1
    assert "line 3, column tier: unknown tier 'ambasador'" in err
    assert "line 4, column mission: unknown mission 'EMB-NOWHERE'" in err
    assert "error: The file has 2 problems; nothing was stored. (HTTP 422)" in err


def test_a_file_whose_format_cannot_be_told_is_refused(
    cli: CliRunner, ministry: Ministry, tmp_path: Path
) -> None:
    path = tmp_path / "inventory.txt"
    path.write_text("platform,handle\n")

    result = cli.invoke(cli_app, ["accounts", "import", str(path)])

    assert result.exit_code != 0
    assert "--format" in str(result.exception)


def test_export_writes_a_private_file_that_imports_unchanged(
    cli: CliRunner, ministry: Ministry, tmp_path: Path
) -> None:
    cli.invoke(cli_app, ["accounts", "import", str(EXAMPLE_CSV)])
    target = tmp_path / "out.json"

    written = cli.invoke(cli_app, ["accounts", "export", "--format", "json", "-o", str(target)])
    again = cli.invoke(cli_app, ["accounts", "import", str(target), "--json"])

    assert written.exit_code == 0, written.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert '"unchanged": 3' in again.stdout


def test_export_to_stdout_follows_the_filters(cli: CliRunner, ministry: Ministry) -> None:
    cli.invoke(cli_app, ["accounts", "import", str(EXAMPLE_CSV)])

    result = cli.invoke(cli_app, ["accounts", "export", "--platform", "facebook"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("record,mission,status,")
    assert "embassyparis" in result.stdout
    assert "ambassadorparis" not in result.stdout
