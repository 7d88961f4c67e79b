"""``python -m secops.bench audit``: a tiny run proves the benchmark works (not a timed test)."""

from __future__ import annotations

import os

from typer.testing import CliRunner

from secops.bench.__main__ import app as bench_app
from secops.bench.audit import run


def test_the_audit_benchmark_appends_verifies_and_compares_with_sha256() -> None:
    server = os.environ.get("SECOPS_TEST_DATABASE_URL")
    result = run(events=200, batch=50, database_url=server)
    assert result.verified
    assert result.backend == ("postgresql" if server else "sqlite")
    assert result.checkpoints == 0  # fewer events than the default checkpoint interval
    assert result.append_per_second > 0
    assert result.verify_per_second > 0
    assert result.ratio > 0


def test_the_benchmark_command_prints_its_figures() -> None:
    output = CliRunner().invoke(bench_app, ["audit", "--events", "120", "--batch", "40"])
    assert output.exit_code == 0, output.output
    assert "append" in output.stdout
    assert "verify / sha-256 =" in output.stdout
