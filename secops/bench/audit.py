"""Audit trail benchmark: append N events through ``audit_service.record``, then verify them.

SQLite runs in a temporary directory; ``--database-url`` runs on PostgreSQL in a scratch
database created on that server and dropped afterwards. The baseline is a bare SHA-256 loop over
the same canonical bytes in the same process, so the ratio says how much of verification is
hashing and how much is reading and canonicalising.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import typer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from secops.audit import chain, rows, verify
from secops.audit import service as audit_service
from secops.audit.models import AuditCheckpoint, AuditEvent
from secops.core.config import Environment, Settings, normalise_database_url
from secops.core.console import print_json
from secops.core.db import metadata
from secops.core.principal import system_principal
from secops.core.runtime import Runtime


@dataclass(frozen=True)
class AuditBenchResult:
    """The figures of one run."""

    backend: str
    events: int
    batch: int
    append_seconds: float
    verify_seconds: float
    baseline_seconds: float
    checkpoints: int
    verified: bool

    @property
    def append_per_second(self) -> float:
        """Events appended per second."""
        return self.events / self.append_seconds

    @property
    def verify_per_second(self) -> float:
        """Events verified per second."""
        return self.events / self.verify_seconds

    @property
    def ratio(self) -> float:
        """Verification time over the bare SHA-256 loop's time."""
        return self.verify_seconds / self.baseline_seconds

    def as_dict(self) -> dict[str, object]:
        """Figures as JSON-ready data."""
        figures = asdict(self)
        figures.update(
            append_per_second=round(self.append_per_second),
            verify_per_second=round(self.verify_per_second),
            ratio=round(self.ratio, 1),
        )
        return figures


@contextmanager
def scratch_database(server_url: str | None, directory: Path) -> Iterator[str]:
    """A database URL to benchmark on: SQLite in ``directory``, or a scratch PostgreSQL one."""
    if server_url is None:
        yield f"sqlite:///{directory / 'db' / 'bench.db'}"
        return
    admin = create_engine(normalise_database_url(server_url), isolation_level="AUTOCOMMIT")
    name = f"secops_bench_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield (
            make_url(normalise_database_url(server_url))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _append(runtime: Runtime, events: int, batch: int) -> float:
    principal = system_principal("bench")
    missions = [uuid.uuid4() for _ in range(8)]
    started = time.perf_counter()
    done = 0
    while done < events:
        with runtime.sessions.begin() as session:
            for _ in range(min(batch, events - done)):
                done += 1
                audit_service.record(
                    session,
                    principal=principal,
                    action="account.update",
                    object_type="account",
                    object_id=uuid.uuid4(),
                    mission_id=missions[done % len(missions)],
                    details={"platform": "x", "handle": f"@embassy{done}"},
                    before={"mfa": "sms", "owner": "Léa Martin"},
                    after={"mfa": "totp", "owner": "Léa Martin"},
                )
    return time.perf_counter() - started


def _baseline(runtime: Runtime) -> float:
    blobs = [
        chain.canonical_event(rows.fields_of_row(row)) for row in rows.event_rows(runtime.engine)
    ]
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for blob in blobs:
        sha256(blob).digest()
    return time.perf_counter() - started


def run(*, events: int, batch: int = 1000, database_url: str | None = None) -> AuditBenchResult:
    """Append ``events`` events in transactions of ``batch``, verify them, time both."""
    with (
        tempfile.TemporaryDirectory(prefix="secops-bench-") as directory,
        scratch_database(database_url, Path(directory)) as url,
    ):
        settings = Settings(env=Environment.TEST, data_dir=Path(directory), database_url=url)
        runtime = Runtime.build(settings)
        try:
            metadata.create_all(
                runtime.engine,
                tables=[AuditEvent.__table__, AuditCheckpoint.__table__],  # type: ignore[attr-defined]
            )
            append_seconds = _append(runtime, events, batch)
            started = time.perf_counter()
            report = verify.verify_database(runtime.engine, settings)
            verify_seconds = time.perf_counter() - started
            baseline_seconds = _baseline(runtime)
        finally:
            runtime.dispose()
    return AuditBenchResult(
        backend=runtime.engine.dialect.name,
        events=events,
        batch=batch,
        append_seconds=append_seconds,
        verify_seconds=verify_seconds,
        baseline_seconds=baseline_seconds,
        checkpoints=report.checkpoints,
        verified=report.ok,
    )


def command(
    events: int = typer.Option(100_000, "--events", min=1, help="How many events to append."),
    batch: int = typer.Option(1000, "--batch", min=1, help="Events per transaction."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="A PostgreSQL server URL; a scratch database is made on it."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Append and verify audit events; print events/s and the ratio to bare SHA-256."""
    result = run(events=events, batch=batch, database_url=database_url)
    if as_json:
        print_json(result.as_dict())
    else:
        typer.echo(
            f"audit bench on {result.backend}: {result.events} events, batches of {result.batch}\n"
            f"  append   {result.append_per_second:>10,.0f} events/s "
            f"({result.append_seconds:.2f} s)\n"
            f"  verify   {result.verify_per_second:>10,.0f} events/s "
            f"({result.verify_seconds:.2f} s, {result.checkpoints} checkpoints, "
            f"{'ok' if result.verified else 'FAILED'})\n"
            f"  sha-256  {result.events / result.baseline_seconds:>10,.0f} events/s "
            f"(bare loop over the same canonical bytes)\n"
            f"  verify / sha-256 = {result.ratio:.1f}x"
        )
    if not result.verified:
        raise typer.Exit(1)
