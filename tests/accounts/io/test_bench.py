"""``python -m secops.bench inventory``: a tiny run proves the benchmark works (not timed)."""

from __future__ import annotations

import os

from typer.testing import CliRunner

from secops.bench.__main__ import app as bench_app
from secops.bench.inventory import run


def test_the_inventory_benchmark_imports_reinserts_and_lists() -> None:
    server = os.environ.get("SECOPS_TEST_DATABASE_URL")

    result = run(accounts=300, database_url=server, list_calls=8)

    assert result.backend == ("postgresql" if server else "sqlite")
    assert result.rows == 300 + 18 * 40
    assert result.table_rows > 300 * 5  # people, accounts and every fact group
    assert result.import_per_second > 0
    assert result.reimport_per_second > 0
    assert result.export_per_second > 0
    assert result.bare_per_second > 0
    assert result.core_per_second > 0
    assert 0 < result.list_p50_ms <= result.list_p95_ms
    assert result.list_first_page > 0


def test_the_benchmark_command_prints_its_figures() -> None:
    output = CliRunner().invoke(
        bench_app, ["inventory", "--rows", "40", "--no-facts", "--calls", "4"]
    )

    assert output.exit_code == 0, output.output
    assert "import" in output.stdout
    assert "import / bare =" in output.stdout
    assert "p95" in output.stdout
