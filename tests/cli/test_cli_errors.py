"""Every failure of the server-local commands is one line on stderr and a non-zero exit."""

from __future__ import annotations

import pytest

from tests.cli.conftest import RunCli

NOTHING_LISTENS = "postgresql://secops:CANARY-db-password@127.0.0.1:1/secops"


def assert_one_error_line(result_err: list[str], *, contains: str) -> None:
    assert len(result_err) == 1, result_err
    assert result_err[0].startswith("error: ")
    assert contains in result_err[0]
    assert "Traceback" not in result_err[0]


@pytest.mark.parametrize("value", ["eighty", "0", "65536", "80.5"])
def test_bad_port_setting_is_one_line_and_exit_2(run_cli: RunCli, value: str) -> None:
    result = run_cli("db", "check", SECOPS_PORT=value)

    assert result.code == 2
    assert_one_error_line(result.error_lines, contains="SECOPS_PORT")
    assert result.out == ""


def test_production_without_a_secret_key_refuses_to_start(run_cli: RunCli) -> None:
    result = run_cli("serve", SECOPS_ENV="production", SECOPS_DATABASE_URL=NOTHING_LISTENS)

    assert result.code == 2
    assert_one_error_line(result.error_lines, contains="SECOPS_SECRET_KEY")


def test_db_check_fails_on_an_unmigrated_database(run_cli: RunCli, empty_database_url: str) -> None:
    result = run_cli("db", "check", SECOPS_DATABASE_URL=empty_database_url)

    assert result.code == 1
    assert_one_error_line(result.error_lines, contains="secops db upgrade")


@pytest.mark.parametrize("command", [("db", "check"), ("db", "upgrade"), ("serve",)])
def test_unreachable_database_is_one_line_without_the_password(
    run_cli: RunCli, command: tuple[str, ...]
) -> None:
    result = run_cli(*command, SECOPS_DATABASE_URL=NOTHING_LISTENS)

    assert result.code == 1
    assert_one_error_line(result.error_lines, contains="unreachable")
    assert "127.0.0.1:1" in result.err
    assert "CANARY" not in result.err


def test_serve_refuses_an_unmigrated_database_before_listening(
    run_cli: RunCli, empty_database_url: str
) -> None:
    result = run_cli("serve", "--port", "1", SECOPS_DATABASE_URL=empty_database_url)

    assert result.code == 1
    assert_one_error_line(result.error_lines, contains="secops db upgrade")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("missions", "list", "--bogus"), "No such option: --bogus"),
        (("missions", "create", "--code", "X"), "No such option: --code"),
        (("nosuch",), "No such command 'nosuch'"),
    ],
)
def test_usage_errors_are_one_line_with_a_pointer_to_help(
    run_cli: RunCli, argv: tuple[str, ...], expected: str
) -> None:
    result = run_cli(*argv)
    assert result.code == 2
    assert len(result.error_lines) == 1, result.err
    line = result.error_lines[0]
    assert line.startswith("error: ")
    assert expected in line
    assert "--help" in line
    assert "Traceback" not in result.err
