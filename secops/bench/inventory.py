"""Inventory benchmark: import N accounts from a generated CSV, then list them with filters.

On a scratch database (SQLite in a temporary directory, or a scratch PostgreSQL database made on
``--database-url``'s server):

1. the CSV (people, then accounts with MFA, recovery, credential, admins and apps) goes through
   the real import service in one transaction (on PostgreSQL after a ``CHECKPOINT``, so that
   no run pays for the previous run's write-ahead log);
2. the same file is imported again, every row now unchanged (the upsert's read-and-compare path);
3. everything is exported as CSV;
4. the rows the first import stored are read back (in the order they were stored), the tables
   emptied (``TRUNCATE`` on PostgreSQL, ``DELETE`` and ``VACUUM`` on SQLite, so each write
   starts from empty tables as the import did), and the rows inserted again in one transaction
   twice: through SQLAlchemy Core ``executemany``, and bare, straight through the driver
   (``executemany`` on SQLite, binary COPY on PostgreSQL) with no checks, no encryption and no
   audit. The bare rows are encoded for the driver before the clock starts, so the bare time is
   the database's own work: the floor for storing those rows on this machine. Both use the
   import's connection settings for a bulk write (``bulk_writes``). The ratio of the import's
   rate to the bare rate is the price of parsing, checking, encrypting and auditing;
5. the list service is called with two filters and a page of 50, its latency reported as
   p50/p95.
"""

from __future__ import annotations

import csv
import io
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import DBAPIError

import secops.db_models  # noqa: F401 - every table on the metadata
from secops.accounts import service as accounts_service
from secops.accounts.filters import AccountFilters
from secops.accounts.io import exporter, importer, tables
from secops.accounts.io.formats import FileFormat
from secops.accounts.models import AccountKind, AccountTier, CredentialStorage, Platform
from secops.bench.audit import scratch_database
from secops.core import fastinsert
from secops.core.config import Environment, Settings
from secops.core.console import print_json
from secops.core.db import metadata
from secops.core.principal import EVERYWHERE, Principal, PrincipalKind, Role, system_principal
from secops.core.runtime import Runtime
from secops.missions import service as missions_service
from secops.missions.models import MissionKind, Region
from secops.missions.schemas import MissionCreate

INVENTORY_TABLES = tables.INVENTORY_TABLES
MISSIONS = ("HQ", *(f"EMB-{n:02d}" for n in range(1, 18)))
PEOPLE_PER_MISSION = 40
METHODS = ("fido2", "microsoftAuthenticatorPush", "softwareOneTimePasscode", "sms", "email")
HEADER = [
    "record",
    "mission",
    "email",
    "full_name",
    "position",
    "platform",
    "handle",
    "display_name",
    "tier",
    "kind",
    "owner",
    "verified_badge",
    "in_public_registry",
    "mfa_enabled",
    "mfa_enforced",
    "mfa_methods",
    "recovery_email",
    "recovery_phone",
    "recovery_phone_owner",
    "recovery_carrier_lock",
    "credential_storage",
    "credential_holders",
    "admins",
    "connected_apps",
    "admins_observed_at",
]


@dataclass(frozen=True)
class InventoryBenchResult:
    """The figures of one run."""

    backend: str
    facts: bool
    rows: int
    accounts: int
    table_rows: int
    import_seconds: float
    reimport_seconds: float
    export_seconds: float
    bare_seconds: float
    core_seconds: float
    list_calls: int
    list_p50_ms: float
    list_p95_ms: float
    list_first_page: int

    @property
    def import_per_second(self) -> float:
        """File rows imported per second."""
        return self.rows / self.import_seconds

    @property
    def reimport_per_second(self) -> float:
        """File rows per second when the same file is imported again (every row unchanged)."""
        return self.rows / self.reimport_seconds

    @property
    def export_per_second(self) -> float:
        """File rows per second of a CSV export of everything imported."""
        return self.rows / self.export_seconds

    @property
    def bare_per_second(self) -> float:
        """The same stored rows written straight through the driver, per file row and second."""
        return self.rows / self.bare_seconds

    @property
    def core_per_second(self) -> float:
        """The same stored rows through SQLAlchemy Core executemany, per file row and second."""
        return self.rows / self.core_seconds

    @property
    def ratio(self) -> float:
        """Import rate over the bare driver insert rate (1.0 would be free)."""
        return self.import_per_second / self.bare_per_second

    def as_dict(self) -> dict[str, object]:
        """Figures as JSON-ready data."""
        figures = asdict(self)
        figures.update(
            import_per_second=round(self.import_per_second),
            reimport_per_second=round(self.reimport_per_second),
            export_per_second=round(self.export_per_second),
            bare_per_second=round(self.bare_per_second),
            core_per_second=round(self.core_per_second),
            ratio=round(self.ratio, 3),
        )
        return figures


def _person(mission: str, index: int) -> dict[str, str]:
    email = f"staff{index:05d}.{mission.lower()}@mfa.example"
    return {
        "record": "person",
        "mission": mission,
        "email": email,
        "full_name": f"Staff Member {index:05d}",
        "position": "Officer",
    }


def _account(
    rng: random.Random, index: int, mission: str, people: list[str], facts: bool
) -> dict[str, str]:
    platform = rng.choice([p for p in Platform if p is not Platform.OTHER])
    owner = rng.choice(people)
    methods = rng.sample(METHODS, rng.randint(0, 2))
    row = {
        "record": "account",
        "mission": mission,
        "platform": platform.value,
        "handle": f"acct{index:06d}",
        "display_name": f"Account {index:06d}",
        "tier": rng.choice(list(AccountTier)).value,
        "kind": rng.choice(list(AccountKind)).value,
        "owner": owner,
        "verified_badge": rng.choice(["true", "false", ""]),
        "in_public_registry": rng.choice(["true", "false"]),
    }
    if not facts:
        return row
    row |= {
        "mfa_enabled": "true" if methods else "false",
        "mfa_enforced": rng.choice(["true", "false"]),
        "mfa_methods": "; ".join(methods),
        "recovery_email": f"recovery{index:06d}@mfa.example" if rng.random() < 0.6 else "",
        "recovery_phone": f"+3361{index:07d}" if rng.random() < 0.3 else "",
        "recovery_phone_owner": rng.choice(["institutional", "personal", "unknown"]),
        "recovery_carrier_lock": rng.choice(["true", "false", ""]),
        "credential_storage": rng.choice(list(CredentialStorage)).value,
        "credential_holders": owner,
        "admins": f"{owner} (role=admin)",
        "connected_apps": "Hootsuite (publisher=Hootsuite Inc., scopes=publish)"
        if rng.random() < 0.2
        else "",
        "admins_observed_at": "2025-11-02",
    }
    return row


def generate_csv(accounts: int, *, facts: bool = True, seed: int = 5) -> tuple[str, int]:
    """A CSV of people (40 per mission) and ``accounts`` accounts, with every fact group or
    none; and its number of rows."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    staff: dict[str, list[str]] = {}
    index = 0
    for mission in MISSIONS:
        for _ in range(PEOPLE_PER_MISSION):
            index += 1
            person = _person(mission, index)
            staff.setdefault(mission, []).append(person["email"])
            writer.writerow(person)
    for number in range(accounts):
        mission = MISSIONS[number % len(MISSIONS)]
        writer.writerow(_account(rng, number, mission, staff[mission], facts))
    return out.getvalue(), index + accounts


def _seed_missions(runtime: Runtime) -> None:
    principal = system_principal("bench")
    with runtime.sessions.begin() as session:
        hq = missions_service.create(
            session=session,
            principal=principal,
            data=MissionCreate(
                code="HQ",
                name="Headquarters",
                kind=MissionKind.HQ,
                country="MT",
                city="Valletta",
                region=Region.EUROPE,
            ),
        )
        for code in MISSIONS[1:]:
            missions_service.create(
                session=session,
                principal=principal,
                data=MissionCreate(
                    code=code,
                    name=f"Embassy {code}",
                    kind=MissionKind.EMBASSY,
                    country="FR",
                    city="Paris",
                    region=Region.EUROPE,
                    parent_id=hq.id,
                ),
            )


def _checkpoint(runtime: Runtime) -> None:
    """On PostgreSQL, write out the server's dirty pages before the import is timed, so that
    it does not pay for an earlier run's write-ahead log (the server checkpoints every few
    runs otherwise). A role that may not checkpoint skips this."""
    if runtime.engine.dialect.name != "postgresql":
        return
    try:
        with runtime.engine.connect() as connection:
            connection.exec_driver_sql("CHECKPOINT")
    except DBAPIError:
        return


def _import(runtime: Runtime, data: bytes) -> float:
    started = time.perf_counter()
    with runtime.sessions.begin() as session:
        importer.import_file(
            session, principal=system_principal("bench"), data=data, file_format=FileFormat.CSV
        )
    return time.perf_counter() - started


def _export(runtime: Runtime) -> float:
    principal = Principal(
        kind=PrincipalKind.USER, id=uuid.uuid4(), name="bench", roles={Role.OFFICER: EVERYWHERE}
    )
    started = time.perf_counter()
    with runtime.sessions.begin() as session:
        exporter.export(session, principal=principal, file_format=FileFormat.CSV)
    return time.perf_counter() - started


def _captured(runtime: Runtime) -> dict[str, list[dict[str, Any]]]:
    with runtime.engine.connect() as conn:
        return {
            name: [dict(r._mapping) for r in conn.execute(select(metadata.tables[name]))]
            for name in INVENTORY_TABLES
        }


def _wipe(runtime: Runtime) -> None:
    """Empty the inventory tables as if they had never held a row."""
    engine = runtime.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(INVENTORY_TABLES)} CASCADE")
        return
    with engine.begin() as conn:
        for name in reversed(INVENTORY_TABLES):
            conn.execute(delete(metadata.tables[name]))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM")


Encoded = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


def _encoded(runtime: Runtime, captured: dict[str, list[dict[str, Any]]]) -> Encoded:
    """The stored rows as the driver is handed them, by table: column names and value tuples."""
    encoder = fastinsert.Encoder(runtime.engine.dialect.name)
    encoded: Encoded = {}
    for name in INVENTORY_TABLES:
        pairs = [(c.name, encoder.converter(c)) for c in metadata.tables[name].columns]
        values = [
            tuple([convert(row[column]) for column, convert in pairs]) for row in captured[name]
        ]
        encoded[name] = ([column for column, _ in pairs], values)
    return encoded


def _bare_insert(runtime: Runtime, encoded: Encoded) -> float:
    """The stored rows again, already encoded, straight through the driver (the import's own
    write path) in one transaction, commit included."""
    _wipe(runtime)
    started = time.perf_counter()
    with runtime.sessions.begin() as session, fastinsert.bulk_writes(session):
        for name in INVENTORY_TABLES:
            names, values = encoded[name]
            if values:
                fastinsert.insert_encoded(session, metadata.tables[name], names, values)
    return time.perf_counter() - started


def _core_insert(runtime: Runtime, captured: dict[str, list[dict[str, Any]]]) -> float:
    """The stored rows again, through SQLAlchemy Core ``insert()`` executemany."""
    _wipe(runtime)
    started = time.perf_counter()
    with runtime.sessions.begin() as session, fastinsert.bulk_writes(session):
        for name in INVENTORY_TABLES:
            rows = captured[name]
            for start in range(0, len(rows), 5000):
                session.execute(insert(metadata.tables[name]), rows[start : start + 5000])
    return time.perf_counter() - started


def _list(runtime: Runtime, calls: int) -> tuple[list[float], int]:
    principal = Principal(
        kind=PrincipalKind.USER, id=uuid.uuid4(), name="bench", roles={Role.OFFICER: EVERYWHERE}
    )
    filter_pairs: list[dict[str, Any]] = [
        {"platform": Platform.X, "tier": AccountTier.MISSION},
        {"mission": "EMB-03", "platform": Platform.FACEBOOK},
        {"tier": AccountTier.HEAD_OF_MISSION, "status": "active"},
        {"mission": "HQ", "mfa": "phone_email"},
    ]
    timings: list[float] = []
    first = 0
    for call in range(calls):
        filters = AccountFilters(**filter_pairs[call % len(filter_pairs)])
        started = time.perf_counter()
        with runtime.sessions.begin() as session:
            page = accounts_service.list_accounts(
                session, principal=principal, filters=filters, limit=50
            )
        timings.append((time.perf_counter() - started) * 1000)
        first = first or len(page.items)
    return timings, first


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run(
    *, accounts: int, facts: bool = True, database_url: str | None = None, list_calls: int = 200
) -> InventoryBenchResult:
    """Import ``accounts`` accounts, bare-insert the same rows twice, then time the list."""
    text, rows = generate_csv(accounts, facts=facts)
    with (
        tempfile.TemporaryDirectory(prefix="secops-bench-") as directory,
        scratch_database(database_url, Path(directory)) as url,
    ):
        settings = Settings(env=Environment.TEST, data_dir=Path(directory), database_url=url)
        runtime = Runtime.build(settings)
        try:
            metadata.create_all(runtime.engine)
            _seed_missions(runtime)
            _checkpoint(runtime)
            import_seconds = _import(runtime, text.encode())
            reimport_seconds = _import(runtime, text.encode())
            export_seconds = _export(runtime)
            captured = _captured(runtime)
            core_seconds = _core_insert(runtime, captured)
            bare_seconds = _bare_insert(runtime, _encoded(runtime, captured))
            timings, first = _list(runtime, list_calls)
        finally:
            runtime.dispose()
    return InventoryBenchResult(
        backend=runtime.engine.dialect.name,
        facts=facts,
        rows=rows,
        accounts=accounts,
        table_rows=sum(len(r) for r in captured.values()),
        import_seconds=import_seconds,
        reimport_seconds=reimport_seconds,
        export_seconds=export_seconds,
        bare_seconds=bare_seconds,
        core_seconds=core_seconds,
        list_calls=list_calls,
        list_p50_ms=_percentile(timings, 50),
        list_p95_ms=_percentile(timings, 95),
        list_first_page=first,
    )


def command(
    accounts: int = typer.Option(50_000, "--rows", min=10, help="How many accounts to import."),
    facts: bool = typer.Option(
        True, "--facts/--no-facts", help="Every fact group per account, or descriptive columns."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="A PostgreSQL server URL; a scratch database is made on it."
    ),
    calls: int = typer.Option(200, "--calls", min=2, help="How many list calls to time."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Import N accounts from CSV (rows/s, ratio to a bare insert), then list with filters."""
    result = run(accounts=accounts, facts=facts, database_url=database_url, list_calls=calls)
    if as_json:
        print_json(result.as_dict())
        return
    typer.echo(
        f"inventory bench on {result.backend}: {result.rows:,} file rows "
        f"({result.accounts:,} accounts, {'every fact group' if result.facts else 'no facts'}),"
        f" {result.table_rows:,} table rows stored\n"
        f"  import   {result.import_per_second:>10,.0f} rows/s ({result.import_seconds:.2f} s)"
        "  target >= 10,000\n"
        f"  reimport {result.reimport_per_second:>10,.0f} rows/s ({result.reimport_seconds:.2f} s,"
        " the same file again: every row unchanged)\n"
        f"  export   {result.export_per_second:>10,.0f} rows/s ({result.export_seconds:.2f} s,"
        " all of it as CSV)\n"
        f"  bare     {result.bare_per_second:>10,.0f} rows/s ({result.bare_seconds:.2f} s, "
        "the same stored rows, pre-encoded, through the driver)\n"
        f"  core     {result.core_per_second:>10,.0f} rows/s ({result.core_seconds:.2f} s, "
        "the same stored rows through SQLAlchemy Core executemany)\n"
        f"  import / bare = {result.ratio:.2f}\n"
        f"  list     p50 {result.list_p50_ms:.1f} ms, p95 {result.list_p95_ms:.1f} ms over "
        f"{result.list_calls} calls (two filters, page of 50)  target p95 < 50 ms"
    )
