"""``python -m secops.bench auth``: a tiny run proves the benchmark works (not a timed test)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from secops.bench.__main__ import app as bench_app
from secops.bench.auth import ROUND, run
from secops.core.logging import configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The benchmark sets production logging; put the suite's back afterwards."""
    yield
    configure_logging(fmt="json", level="info")


def test_the_auth_benchmark_times_both_routes_in_alternating_rounds() -> None:
    server = os.environ.get("SECOPS_TEST_DATABASE_URL")
    secured, bare, backend = run(requests=ROUND + 20, database_url=server)
    assert backend == ("postgresql" if server else "sqlite")
    for timing in (secured, bare):
        assert timing.requests == ROUND + 20
        assert timing.per_second > 0
        assert 0 < timing.p50_ms <= timing.p95_ms


def test_the_benchmark_command_prints_its_figures() -> None:
    output = CliRunner().invoke(bench_app, ["auth", "--requests", "30"])
    assert output.exit_code == 0, output.output
    assert "secops GET /missions/{id}" in output.stdout
    assert "authenticated / bare throughput =" in output.stdout
