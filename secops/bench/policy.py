"""Policy benchmark: evaluate the baseline over N accounts with results persisted, and naively.

On a scratch database (SQLite in a temporary directory, or a scratch PostgreSQL database made on
``--database-url``'s server), N accounts with every fact group are imported with the inventory
benchmark's generator. ``policies/ministry-baseline.yaml`` is then evaluated three times through
the real service, each in one transaction that commits:

1. the first run (no previous results to compare with);
2. the second run, which also reads every account's previous result (the steady state of a
   daily scheduled run): wall time and accounts/s;
3. the same again under ``tracemalloc``, rolled back, for the peak memory it allocates.

The naive evaluation then loads accounts one at a time through the ORM (the account, its
owner, each fact row and list, each admin's and holder's person, and its previous result),
evaluates them with the same compiled policy, and adds result and finding objects to the
session; it is rolled back. It runs on a sample (``--naive``) and its rate is compared with the
second run's: the ratio is what the bulk design buys. The naive facts are checked against the
bulk ones for the same accounts, so both paths evaluate the same thing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import tracemalloc
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import func, select
from sqlmodel import Session, col

import secops.db_models  # noqa: F401 - every table on the metadata
from secops.bench import inventory
from secops.bench.audit import scratch_database
from secops.bench.policy_naive import naive_evaluate
from secops.core.config import Environment, Settings
from secops.core.console import print_json
from secops.core.db import metadata
from secops.core.principal import system_principal
from secops.core.runtime import Runtime
from secops.policy import service
from secops.policy.models import PolicyAccountResult, PolicyFinding, PolicyRun

BASELINE = Path(__file__).resolve().parents[2] / "policies" / "ministry-baseline.yaml"
TARGET_SECONDS = 10.0


@dataclass(frozen=True)
class PolicyBenchResult:
    """The figures of one run."""

    backend: str
    accounts: int
    rules: int
    first_seconds: float
    second_seconds: float
    second_cpu_seconds: float
    peak_mib: float
    result_rows: int
    finding_rows: int
    naive_accounts: int
    naive_seconds: float

    @property
    def first_per_second(self) -> float:
        """Accounts evaluated and stored per second, first run."""
        return self.accounts / self.first_seconds

    @property
    def second_per_second(self) -> float:
        """Accounts evaluated and stored per second, second run (previous results read)."""
        return self.accounts / self.second_seconds

    @property
    def naive_per_second(self) -> float:
        """Accounts per second, one ORM load at a time."""
        return self.naive_accounts / self.naive_seconds

    @property
    def ratio(self) -> float:
        """How many times faster the service is than the naive loop (second run)."""
        return self.second_per_second / self.naive_per_second

    def as_dict(self) -> dict[str, object]:
        """Figures as JSON-ready data."""
        figures = asdict(self)
        figures.update(
            first_per_second=round(self.first_per_second),
            second_per_second=round(self.second_per_second),
            naive_per_second=round(self.naive_per_second, 1),
            ratio=round(self.ratio, 1),
        )
        return figures


def _evaluate(runtime: Runtime) -> tuple[float, float]:
    """Wall and CPU seconds of one evaluation (CPU: this process only, not PostgreSQL's)."""
    started, cpu = time.perf_counter(), time.process_time()
    with runtime.sessions.begin() as session:
        service.evaluate(session, principal=system_principal("bench"))
    return time.perf_counter() - started, time.process_time() - cpu


def _peak_mib(runtime: Runtime) -> float:
    tracemalloc.start()
    try:
        session = runtime.sessions()
        try:
            service.evaluate(session, principal=system_principal("bench"))
        finally:
            session.rollback()
            session.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def _count(session: Session, model: Any, run_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(model).where(col(model.run_id) == run_id)
    return int(session.execute(query).scalar_one())


def run(*, accounts: int, naive: int, database_url: str | None = None) -> PolicyBenchResult:
    """Import ``accounts`` accounts, evaluate the baseline twice, measure memory, then naively."""
    text, _ = inventory.generate_csv(accounts, facts=True)
    with (
        tempfile.TemporaryDirectory(prefix="secops-bench-") as directory,
        scratch_database(database_url, Path(directory)) as url,
    ):
        policies = Path(directory) / "policies"
        policies.mkdir()
        shutil.copy(BASELINE, policies / BASELINE.name)
        settings = Settings(
            env=Environment.TEST, data_dir=Path(directory), database_url=url, policies_dir=policies
        )
        runtime = Runtime.build(settings)
        try:
            metadata.create_all(runtime.engine)
            inventory._seed_missions(runtime)
            inventory._import(runtime, text.encode())
            first, _ = _evaluate(runtime)
            second, second_cpu = _evaluate(runtime)
            peak = _peak_mib(runtime)
            with runtime.sessions.begin() as session:
                latest = session.execute(
                    select(col(PolicyRun.id)).order_by(col(PolicyRun.seq).desc()).limit(1)
                ).scalar_one()
                results = _count(session, PolicyAccountResult, latest)
                findings = _count(session, PolicyFinding, latest)
            naive_count, naive_seconds, rules = naive_evaluate(runtime, limit=naive)
        finally:
            runtime.dispose()
    return PolicyBenchResult(
        backend=runtime.engine.dialect.name,
        accounts=accounts,
        rules=rules,
        first_seconds=first,
        second_seconds=second,
        second_cpu_seconds=second_cpu,
        peak_mib=peak,
        result_rows=results,
        finding_rows=findings,
        naive_accounts=naive_count,
        naive_seconds=naive_seconds,
    )


def command(
    accounts: int = typer.Option(50_000, "--accounts", min=10, help="How many accounts."),
    naive: int = typer.Option(
        2_000, "--naive", min=0, help="Accounts in the naive sample (0: all of them)."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="A PostgreSQL server URL; a scratch database is made on it."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Evaluate the baseline policy over N accounts, persisted; and naively, as the baseline."""
    result = run(accounts=accounts, naive=naive, database_url=database_url)
    if as_json:
        print_json(result.as_dict())
        return
    verdict = "met" if result.second_seconds < TARGET_SECONDS else "MISSED"
    typer.echo(
        f"policy bench on {result.backend}: {result.accounts:,} accounts x {result.rules} rules "
        f"(policies/{BASELINE.name}), results persisted\n"
        f"  first run    {result.first_seconds:6.2f} s  {result.first_per_second:>9,.0f} "
        "accounts/s (no previous results)\n"
        f"  second run   {result.second_seconds:6.2f} s  {result.second_per_second:>9,.0f} "
        f"accounts/s (previous results read)  target < {TARGET_SECONDS:.0f} s: {verdict}\n"
        f"               {result.second_cpu_seconds:6.2f} s of CPU in this process "
        "(compare with the wall time on a busy machine)\n"
        f"  peak memory  {result.peak_mib:6.1f} MiB allocated by one run (tracemalloc)\n"
        f"  stored       {result.result_rows:,} account results, {result.finding_rows:,} "
        "findings per run\n"
        f"  naive        {result.naive_seconds:6.2f} s  {result.naive_per_second:>9,.1f} "
        f"accounts/s ({result.naive_accounts:,} accounts, one ORM load at a time)\n"
        f"  service / naive = {result.ratio:,.1f}x"
    )
