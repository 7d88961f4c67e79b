"""``secops connectors``: add, list, test, sync and runs, acting as the signed-in user."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import secops.core.client
from secops.cli import app as cli_app
from secops.cli import main
from secops.core.principal import Principal, Role
from tests.accounts.connectors import payloads as p
from tests.accounts.connectors.conftest import Naps
from tests.accounts.connectors.graph_tenant import GraphTenant
from tests.factories.missions import Ministry


@pytest.fixture
def cli(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    ministry: Ministry,
    role_on: Callable[..., Principal],
    no_waiting: Naps,
) -> CliRunner:
    """A runner whose HTTP calls reach the test app as an officer of Paris."""
    monkeypatch.setattr(secops.core.client, "http_factory", lambda _url: client)
    monkeypatch.setenv("SECOPS_API_KEY", "secops_s_test-token")
    monkeypatch.setenv("SECOPS_CREDENTIALS_FILE", str(tmp_path / "absent.json"))
    monkeypatch.setenv("COLUMNS", "250")
    role_on(Role.OFFICER, ministry.paris)
    return CliRunner()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """The client secret in a file, with the newline editors add."""
    path = tmp_path / "graph-secret.txt"
    path.write_text(p.GRAPH_SECRET + "\n")
    return path


def add(cli: CliRunner, secret_file: Path, *extra: str) -> dict[str, object]:
    result = cli.invoke(
        cli_app,
        [
            "connectors", "add", "--kind", "microsoft_graph", "--name", "Paris tenant",
            "--mission", "emb-paris", "--tenant-id", p.TENANT, "--client-id", p.CLIENT,
            "--secret-file", str(secret_file), "--json", *extra,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    created: dict[str, object] = json.loads(result.output)
    return created


def test_add_reads_the_secret_file_and_never_prints_it(
    cli: CliRunner, secret_file: Path, ministry: Ministry
) -> None:
    created = add(cli, secret_file)

    assert created["mission_id"] == str(ministry.paris.id)
    assert p.GRAPH_SECRET not in json.dumps(created)


def test_add_takes_the_secret_from_standard_input(cli: CliRunner, ministry: Ministry) -> None:
    result = cli.invoke(
        cli_app,
        [
            "connectors", "add", "--kind", "microsoft_graph", "--name", "Piped",
            "--mission", "EMB-PARIS", "--tenant-id", p.TENANT, "--client-id", p.CLIENT,
            "--secret-file", "-",
        ],
        input=p.GRAPH_SECRET,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "Piped" in result.output
    assert p.GRAPH_SECRET not in result.output


def test_list_shows_the_mission_code(cli: CliRunner, secret_file: Path) -> None:
    add(cli, secret_file)

    result = cli.invoke(cli_app, ["connectors", "list"])

    assert result.exit_code == 0, result.output
    assert "Paris tenant" in result.output
    assert "EMB-PARIS" in result.output


def test_sync_prints_the_counts_and_runs_lists_it(
    cli: CliRunner, secret_file: Path, vendors: respx.MockRouter
) -> None:
    GraphTenant().mount(vendors)
    connector = str(add(cli, secret_file)["id"])

    synced = cli.invoke(cli_app, ["connectors", "sync", connector])
    runs = cli.invoke(cli_app, ["connectors", "runs", connector, "--json"])

    assert synced.exit_code == 0, synced.output
    assert "accounts_created" in synced.output
    assert [r["status"] for r in json.loads(runs.output)] == ["ok"]


def test_a_refused_test_exits_non_zero_with_the_vendor_code(
    cli: CliRunner,
    secret_file: Path,
    vendors: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    vendors.post(url__startswith="https://login.microsoftonline.com/").mock(
        return_value=httpx.Response(400, json={"error": "unauthorized_client"})
    )
    connector = str(add(cli, secret_file)["id"])
    monkeypatch.setattr(sys, "argv", ["secops", "connectors", "test", connector])

    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 1
    assert "error: the vendor refused: unauthorized_client (HTTP 400)" in capsys.readouterr().err


def test_a_failed_sync_exits_non_zero(
    cli: CliRunner,
    secret_file: Path,
    vendors: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    GraphTenant(token=httpx.Response(401, json={"error": "invalid_client"})).mount(vendors)
    connector = str(add(cli, secret_file)["id"])
    monkeypatch.setattr(sys, "argv", ["secops", "connectors", "sync", connector])

    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 1
    assert "sign-in: invalid_client (HTTP 401)" in capsys.readouterr().err


def test_a_missing_secret_file_is_one_line(
    cli: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "secops", "connectors", "add", "--kind", "microsoft_graph", "--name", "x",
            "--mission", "EMB-PARIS", "--tenant-id", p.TENANT, "--client-id", p.CLIENT,
            "--secret-file", str(tmp_path / "nope.txt"),
        ],
    )  # fmt: skip

    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith("error: no such file:")
