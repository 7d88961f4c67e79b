"""``secops db``: upgrade, check and downgrade on an empty database, as an operator runs them."""

from __future__ import annotations

from tests.cli.conftest import RunCli


def test_upgrade_then_check_passes_and_downgrade_makes_check_fail(
    run_cli: RunCli, empty_database_url: str
) -> None:
    env = {"SECOPS_DATABASE_URL": empty_database_url}

    upgraded = run_cli("db", "upgrade", **env)
    checked = run_cli("db", "check", **env)
    downgraded = run_cli("db", "downgrade", "base", **env)
    rechecked = run_cli("db", "check", **env)

    assert upgraded.code == 0, upgraded.err
    assert "database at revision" in upgraded.out
    assert checked.code == 0, checked.err
    assert checked.out.startswith("ok: database at ")
    assert downgraded.code == 0, downgraded.err
    assert rechecked.code == 1
    assert len(rechecked.error_lines) == 1
