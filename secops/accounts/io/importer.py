"""Import people and accounts from a CSV or JSON file: all rows, or nothing.

``import_file`` reads the whole file, plans every row against the database and the caller's
grants, and stops with ``ValidationFailed`` (422) listing the first hundred problems by line and
column if there is any. Otherwise it writes the plan in the caller's transaction: new rows in
bulk, changed rows through the core's services, and the audit trail gets one
``inventory.import`` event (counts and the file's SHA-256), one ``person.import`` /
``account.import`` event per mission for the rows created (ids and keys, a thousand per event),
and the core's per-row events for the rows changed. ``dry_run`` stops after planning.

An import (not a dry run, not an attestation file) writes as it plans: each batch of new
accounts goes into its tables on a second thread while the next is planned (a COPY on
PostgreSQL, a move out of staging tables on SQLite: ``fastinsert.pipelined``), and a problem
found later still ends in ``ValidationFailed``, the rows written so far rolled back with the
caller's transaction.
"""

from __future__ import annotations

import gc
import hashlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from secops.accounts.io import bulk, context, formats, plan, updates
from secops.accounts.io.formats import FileFormat, Mode
from secops.accounts.io.plan import AccountPlan, PersonPlan, Plan
from secops.accounts.io.records import Errors, ParsedFile, RecordType
from secops.accounts.io.schemas import MAX_LISTED_ROWS, Counts, ImportReport, RowOutcome
from secops.accounts.results import UpsertOutcome
from secops.audit import service as audit_service
from secops.core import fastinsert
from secops.core.db import clock_of, new_id
from secops.core.errors import Conflict, Forbidden, ValidationFailed
from secops.core.logging import get_logger
from secops.core.principal import Permission, Principal

log = get_logger("secops.accounts.io")
AUDIT_CHUNK = 1000
ANALYZE_FROM_ROWS = 1000
LISTED_TABLES = ("person", "account")
CREATED = UpsertOutcome.CREATED


def _reject(errors: Errors) -> ValidationFailed:
    shown = len(errors.first)
    more = f" (the first {shown} are listed)" if errors.count > shown else ""
    listed = sorted(errors.first, key=lambda e: e.where.line or 0)
    return ValidationFailed(
        f"The file has {errors.count} problem{'s' if errors.count != 1 else ''}{more}; "
        "nothing was stored.",
        errors=[e.as_problem() for e in listed],
    )


@contextmanager
def _many_objects() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file's records are built and written.

    An import allocates a few objects per cell and keeps them all until it ends, so the
    collector would otherwise rescan the growing heap over and over (about 40% of the time of
    a 50,000-row file). Reference counting still frees everything; cycles wait until the end.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_file(
    session: Session,
    *,
    principal: Principal,
    data: bytes,
    file_format: FileFormat,
    mode: Mode = Mode.UPSERT,
    dry_run: bool = False,
) -> ImportReport:
    """Import ``data``; raises ValidationFailed (nothing stored) if any row has a problem."""
    if not principal.has(Permission.ACCOUNTS_WRITE):
        raise Forbidden("Your role does not allow imports (accounts:write).")
    with _many_objects():
        return _import(session, principal, data, file_format, mode, dry_run)


def _import(
    session: Session,
    principal: Principal,
    data: bytes,
    file_format: FileFormat,
    mode: Mode,
    dry_run: bool,
) -> ImportReport:
    parsed = formats.parse(data, file_format, mode)
    errors = parsed.errors
    if errors and not (parsed.people or parsed.accounts):
        raise _reject(errors)
    # The rows that read cleanly are still checked, so one pass reports every problem.
    ctx = context.load(session, principal, parsed, clock_of(session).now())
    digest = hashlib.sha256(data).hexdigest()
    import_id = None if dry_run else new_id()
    # An upsert with no parse error is planned and written batch by batch; dry runs and
    # attestation files (whose errors are about existing rows) plan everything first.
    streamed = import_id is not None and mode is Mode.UPSERT and not errors
    planned = Plan()
    if not streamed:
        planned = plan.build(ctx, parsed, errors, attest=mode is Mode.ATTEST)
        if errors:
            raise _reject(errors)
    if import_id is not None:

        def audit_events(planned: Plan) -> list[audit_service.Prepared]:
            summary = _summary(file_format, mode, digest, data, parsed.rows, planned)
            return _audit_events(ctx, planned, import_id, summary=summary)

        try:
            if streamed:
                planned, events = _plan_and_write(
                    session, ctx, parsed, errors, import_id, audit_events
                )
            else:
                _write(session, ctx, parsed, planned, import_id)
                events = audit_events(planned)
        except IntegrityError:
            # Another writer took a key this import planned to create (PostgreSQL runs writers
            # side by side; SQLite queues them): the transaction is rolled back as a whole.
            raise Conflict(
                "Another change to the inventory created some of these people or accounts at "
                "the same time; nothing was stored. Import the file again."
            ) from None
        for event in events:
            audit_service.append(session, principal=ctx.principal, event=event)
    report = _report(planned, import_id, file_format, mode, digest, len(data), parsed.rows)
    log.info(
        "accounts.import",
        dry_run=report.dry_run,
        file_format=file_format.value,
        mode=mode.value,
        rows=report.rows,
        people=report.people.model_dump(),
        accounts=report.accounts.model_dump(),
    )
    return report


def _write(
    session: Session,
    ctx: context.Context,
    parsed: ParsedFile,
    planned: Plan,
    import_id: uuid.UUID,
) -> None:
    people = _by_outcome(planned.people)
    accounts = _by_outcome(planned.accounts)
    session.flush()
    with fastinsert.bulk_writes(session):
        bulk.insert_people(session, people[UpsertOutcome.CREATED], ctx.now)
        updates.update_people(session, ctx, people[UpsertOutcome.UPDATED])
        bulk.insert_accounts(session, ctx, parsed, accounts[UpsertOutcome.CREATED])
        updates.update_accounts(session, ctx, accounts[UpsertOutcome.UPDATED], import_id)
    _analyze(session, people, accounts)


def _plan_and_write(
    session: Session,
    ctx: context.Context,
    parsed: ParsedFile,
    errors: Errors,
    import_id: uuid.UUID,
    audit_events: Callable[[Plan], list[audit_service.Prepared]],
) -> tuple[Plan, list[audit_service.Prepared]]:
    """Plan the file and write it as it is planned: each batch of new accounts is written while
    the next batch is planned. Any error still stops the import with ``ValidationFailed``
    once every row is checked; what was written goes with the caller's rolled-back transaction.
    The import's audit events are prepared while the last batch is written.
    """
    planned = Plan()
    events: list[audit_service.Prepared] = []
    plan.check_duplicates(parsed, errors)
    plan.plan_people(ctx, parsed, errors, planned)
    new_ids = plan.new_account_ids(ctx, parsed)
    # Planning may ask which missions lie below an owner's: asked now, not during the copies.
    ctx.prefetch_hierarchy()
    people = _by_outcome(planned.people)
    session.flush()
    with fastinsert.bulk_writes(session):
        if not errors:
            bulk.insert_people(session, people[UpsertOutcome.CREATED], ctx.now)
        writer = bulk.AccountWriter.for_file(session, ctx, parsed, new_ids)
        with fastinsert.pipelined(session) as pipeline:
            for batch in plan.account_batches(ctx, parsed, errors, new_ids, bulk.CHUNK):
                planned.accounts.extend(batch)
                if not errors:
                    writer.batch([a for a in batch if a.outcome is CREATED], pipeline)
            if not errors:
                writer.finish(pipeline)
                pipeline.flush()
                _release_built(parsed, planned)
                events = audit_events(planned)
        if errors:
            raise _reject(errors)
        accounts = _by_outcome(planned.accounts)
        updates.update_people(session, ctx, people[UpsertOutcome.UPDATED])
        updates.update_accounts(session, ctx, accounts[UpsertOutcome.UPDATED], import_id)
    _analyze(session, people, accounts)
    return planned, events


def _release_built(parsed: ParsedFile, planned: Plan) -> None:
    """Free what only planning and building needed, the file's records and the fact groups of
    every new account, while the last batch is written: releasing a few million objects takes
    a quarter of a second, which then overlaps that write instead of following it."""
    parsed.people.clear()
    parsed.accounts.clear()
    for account in planned.accounts:
        if account.outcome is CREATED:
            account.groups = []


def _analyze(
    session: Session,
    people: dict[UpsertOutcome, list[PersonPlan]],
    accounts: dict[UpsertOutcome, list[AccountPlan]],
) -> None:
    created = len(people[UpsertOutcome.CREATED]) + len(accounts[UpsertOutcome.CREATED])
    if created >= ANALYZE_FROM_ROWS and session.get_bind().dialect.name == "postgresql":
        # Fresh statistics for the tables lists filter and sort, or PostgreSQL plans the next
        # lists as if they were still small until autovacuum catches up (p95 of a filtered
        # page: 75 ms before, 14 after). The fact tables are read by account id through their
        # keys, which PostgreSQL costs from their size on disk until autovacuum analyses them
        # (after 50,000 accounts: 0.13 s for these two, 0.5 s for all ten).
        session.execute(text(f"ANALYZE {', '.join(LISTED_TABLES)}"))


def _by_outcome(rows: Sequence[Any]) -> dict[UpsertOutcome, list[Any]]:
    grouped: dict[UpsertOutcome, list[Any]] = {o: [] for o in UpsertOutcome}
    for row in rows:
        grouped[row.outcome].append(row)
    return grouped


def _counts(rows: Sequence[PersonPlan] | Sequence[AccountPlan]) -> Counts:
    tally = Counter(row.outcome.value for row in rows)
    return Counts(**{outcome.value: tally[outcome.value] for outcome in UpsertOutcome})


def _summary(
    file_format: FileFormat, mode: Mode, digest: str, data: bytes, rows: int, planned: Plan
) -> dict[str, Any]:
    return {
        "format": file_format.value,
        "mode": mode.value,
        "sha256": digest,
        "bytes": len(data),
        "rows": rows,
        "people": _counts(planned.people).model_dump(),
        "accounts": _counts(planned.accounts).model_dump(),
    }


def _audit_events(
    ctx: context.Context,
    planned: Plan,
    import_id: uuid.UUID,
    *,
    summary: dict[str, Any],
) -> list[audit_service.Prepared]:
    """The import's events: its summary, then the rows created per mission, a thousand each."""
    created: dict[tuple[str, uuid.UUID], list[Any]] = defaultdict(list)
    for person in planned.people:
        if person.outcome is CREATED:
            created["person", person.fields["mission_id"]].append(
                f"{person.person_id} {person.email}"
            )
    missions = {m for _, m in created}
    by_mission: dict[uuid.UUID, list[Any]] = {}
    for account in planned.accounts:
        mission_id = account.fields["mission_id"]
        if account.outcome is CREATED:
            listed = by_mission.get(mission_id)
            if listed is None:
                listed = by_mission[mission_id] = created["account", mission_id]
            listed.append(f"{account.account_id} {account.platform.value}/{account.handle}")
        else:
            missions.add(mission_id)
    missions.update(by_mission)
    events = [
        audit_service.prepare(
            action="inventory.import",
            object_type="inventory_import",
            object_id=import_id,
            mission_id=next(iter(missions)) if len(missions) == 1 else None,
            details=summary,
        )
    ]
    for (kind, mission_id), rows in sorted(
        created.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))
    ):
        for start in range(0, len(rows), AUDIT_CHUNK):
            events.append(
                audit_service.prepare(
                    action=f"{kind}.import",
                    object_type=kind,
                    mission_id=mission_id,
                    details={
                        "import_id": str(import_id),
                        "created": rows[start : start + AUDIT_CHUNK],
                    },
                )
            )
    return events


def _report(
    planned: Plan,
    import_id: uuid.UUID | None,
    file_format: FileFormat,
    mode: Mode,
    digest: str,
    size: int,
    rows: int,
) -> ImportReport:
    outcomes: list[RowOutcome] = []
    for person in planned.people[:MAX_LISTED_ROWS]:
        outcomes.append(
            RowOutcome(
                where=person.where.label,
                line=person.where.line,
                record=RecordType.PERSON,
                key=person.email,
                outcome=person.outcome,
                changed=person.changed,
            )
        )
    for account in planned.accounts[: MAX_LISTED_ROWS - len(outcomes)]:
        outcomes.append(
            RowOutcome(
                where=account.where.label,
                line=account.where.line,
                record=RecordType.ACCOUNT,
                key=f"{account.platform.value}/{account.handle}",
                outcome=account.outcome,
                changed=account.changed,
            )
        )
    return ImportReport(
        import_id=import_id,
        dry_run=import_id is None,
        format=file_format,
        mode=mode,
        sha256=digest,
        bytes=size,
        rows=rows,
        people=_counts(planned.people),
        accounts=_counts(planned.accounts),
        outcomes=outcomes,
        rows_listed=len(outcomes),
    )
