"""Scoped reads and bulk writes of policy runs, results, findings and scores.

Every read that can return a result, finding or score goes through ``scope`` on the mission the
row was stored with (the account's mission at the time of the run). A run is visible to a
caller who can see its root mission or any mission it covered. Writes take their rows from an
evaluation that was itself scoped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from psycopg.types.json import Json
from pydantic_core import to_json
from sqlalchemy import (
    Row,
    String,
    Table,
    Text,
    and_,
    cast,
    func,
    insert,
    literal_column,
    select,
    true,
    type_coerce,
    union,
)
from sqlmodel import Session, col

from secops.accounts.filters import after_key
from secops.accounts.models import Account
from secops.core import fastinsert
from secops.core.db import lock_key
from secops.core.principal import Permission, Principal
from secops.missions.models import Mission
from secops.missions.scope import scope
from secops.policy.evaluation import (
    FINDING_COLUMNS,
    REASON_COLUMNS,
    RESULT_COLUMNS,
    decode_statuses,
)
from secops.policy.models import (
    PolicyAccountResult,
    PolicyFinding,
    PolicyReason,
    PolicyRun,
    PolicyScore,
    RunStatus,
)

READ: Final = Permission.POLICY_READ
RUN: Final = Permission.POLICY_RUN
POLICY_RUN_LOCK_KEY: Final = 0x5EC0_9011

_RESULTS: Table = PolicyAccountResult.__table__  # type: ignore[attr-defined]
_FINDINGS: Table = PolicyFinding.__table__  # type: ignore[attr-defined]
_REASONS: Table = PolicyReason.__table__  # type: ignore[attr-defined]
_SCORES: Table = PolicyScore.__table__  # type: ignore[attr-defined]

# One finding row as pages show it: the finding, its reason, its account's platform and handle,
# and the code of the mission it was stored with.
FindingRow = Row[PolicyFinding, str | None, str | None, str | None, str | None]


# -- missions -------------------------------------------------------------------------------


def visible_mission(
    session: Session, principal: Principal, mission_id: uuid.UUID, permission: Permission
) -> Mission | None:
    """The mission if ``principal`` holds ``permission`` on it."""
    query = select(Mission).where(col(Mission.id) == mission_id)
    return session.scalars(scope(query, principal, permission, Mission.id)).one_or_none()


def mission_codes(session: Session, mission_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Codes of the given missions."""
    # unscoped: the ids come from rows the caller was allowed to read; only codes are returned
    query = select(col(Mission.id), col(Mission.code)).where(col(Mission.id).in_(mission_ids))
    return {row[0]: row[1] for row in session.execute(query)}


# -- writing a run --------------------------------------------------------------------------


def lock_runs(session: Session) -> None:
    """Become the only evaluation in progress until this transaction ends."""
    lock_key(session, POLICY_RUN_LOCK_KEY)


def next_run_seq(session: Session) -> int:
    """The next run number; call under ``lock_runs``."""
    # unscoped: a counter across every run, read under the run lock; the number is not secret
    highest = session.execute(select(func.max(col(PolicyRun.seq)))).scalar_one_or_none()
    return (highest or 0) + 1


def _sqlite_json(value: Any) -> str:
    return to_json(value).decode()


def _as_is(data: Any) -> Any:
    return data


def _pg_json(value: Any) -> Json:
    # Serialised here (pydantic-core, several times faster than json.dumps on a snapshot);
    # psycopg's json dumper is handed the bytes and told to pass them through.
    return Json(to_json(value), dumps=_as_is)


def _sqlite_json_text(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode()


def _pg_json_text(data: bytes | str) -> Json:
    return Json(data, dumps=_as_is)


class RowEncoder:
    """How result and finding values are handed to the session's driver."""

    def __init__(self, session: Session) -> None:
        base = fastinsert.encoder_for(session)
        self.uuid: Callable[[Any], Any] = base.uuid
        self.time: Callable[[Any], Any] = base.time
        self.json: Callable[[Any], Any] = _sqlite_json if base.sqlite else _pg_json
        self.json_text: Callable[[bytes | str], Any] = (
            _sqlite_json_text if base.sqlite else _pg_json_text
        )


def encoder(session: Session) -> RowEncoder:
    """The encoder of the rows :func:`bulk_writes` writes."""
    return RowEncoder(session)


Rows = list[tuple[Any, ...]]
RunWrite = Callable[[Rows, Rows, Rows], None]


@contextmanager
def bulk_writes(session: Session) -> Iterator[RunWrite]:
    """A ``write(results, findings, reasons)`` for a run's batches, encoded by :func:`encoder`.

    SQLite gets a large page cache for the block (``fastinsert.bulk_writes``); each batch goes
    into its tables on a thread of its own while the caller evaluates the next
    (``fastinsert.pipelined``): the caller must not use the session until the block ends.
    """
    with fastinsert.bulk_writes(session), fastinsert.pipelined(session) as pipeline:

        def write(results: Rows, findings: Rows, reasons: Rows) -> None:
            if reasons:
                pipeline(_REASONS, REASON_COLUMNS, reasons)
            if results:
                pipeline(_RESULTS, RESULT_COLUMNS, results)
            if findings:
                pipeline(_FINDINGS, FINDING_COLUMNS, findings)
            pipeline.flush()

        yield write


def insert_scores(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write a run's score rows (a few dozen)."""
    if rows:
        session.execute(insert(_SCORES), list(rows))


# (account id, run id, statuses, first_seen, snapshot, snapshot run id): ids as the driver
# returns them, the JSON columns as their stored text, the snapshot as its row holds it.
PreviousRow = tuple[Any, Any, str, str, str, Any]


def _driver_id(column: Any) -> Any:
    # No conversion: hex text on SQLite, a UUID from psycopg; the form the writes use.
    return type_coerce(col(column), String())


def previous_results(
    session: Session,
    principal: Principal,
    *,
    policy_id: str,
    mission_ids: Collection[uuid.UUID] | None,
) -> Iterator[PreviousRow]:
    """Each evaluated account's newest result under ``policy_id``: (account id, run id,
    statuses, first_seen, snapshot, snapshot run id), for the accounts ``principal`` may
    evaluate (within ``mission_ids``).

    Ids come as the driver returns them (what :func:`encoder` makes of a UUID); the JSON
    columns as text, parsed by the caller only as far as it needs; the snapshot is read from
    the row that holds it (``snapshot_run_id``).
    """
    r = PolicyAccountResult
    holder = _RESULTS.alias("holder")
    columns = (
        _driver_id(r.account_id),
        _driver_id(r.run_id),
        col(r.statuses),
        cast(col(r.first_seen), Text).label("first_seen"),
        _driver_id(r.snapshot_run_id),
    )
    query: Any  # either form of the same columns
    if session.get_bind().dialect.name == "postgresql":
        # One index probe per account, however many runs the table holds.
        newest = (
            select(*columns)
            .where(col(r.policy_id) == policy_id, col(r.account_id) == col(Account.id))
            .order_by(col(r.run_seq).desc())
            .limit(1)
            .lateral("newest")
        )
        query = (
            select(*newest.c[:4], cast(holder.c.snapshot, Text), newest.c.snapshot_run_id)
            .select_from(Account)
            .join(newest, true())
            .join(holder, and_(holder.c.run_id == newest.c.snapshot_run_id,
                               holder.c.account_id == newest.c.account_id))
        )  # fmt: skip
    else:
        # SQLite has no LATERAL: the newest row's rowid, found per account by one probe of
        # the (policy, account, run) index, keeps account as the outer loop of the join.
        other = _RESULTS.alias("newest")
        newest_rowid = (
            select(literal_column("newest.rowid"))
            .select_from(other)
            .where(other.c.policy_id == policy_id, other.c.account_id == col(Account.id))
            .order_by(other.c.run_seq.desc())
            .limit(1)
            .correlate(Account)
            .scalar_subquery()
        )
        query = (
            select(*columns[:4], cast(holder.c.snapshot, Text), columns[4])
            .select_from(Account)
            .join(r, literal_column(f"{_RESULTS.name}.rowid") == newest_rowid)
            .join(holder, and_(holder.c.run_id == col(r.snapshot_run_id),
                               holder.c.account_id == col(r.account_id)))
        )  # fmt: skip
    query = scope(query, principal, RUN, Account.mission_id)
    if mission_ids is not None:
        query = query.where(col(Account.mission_id).in_(mission_ids))
    for row in session.execute(query).yield_per(5000):
        yield row[0], row[1], row[2], row[3], row[4], row[5]


def rule_orders(session: Session, run_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The ``rule_ids`` of some runs: the order of their results' status letters."""
    # unscoped: the ids come from result rows the caller was allowed to read
    if not run_ids:
        return {}
    query = select(col(PolicyRun.id), col(PolicyRun.rule_ids)).where(col(PolicyRun.id).in_(run_ids))
    return {row[0]: row[1] for row in session.execute(query)}


# -- runs -----------------------------------------------------------------------------------


def _scoped(principal: Principal) -> Any:
    """Runs whose root mission, or one of whose covered missions, the caller may read."""
    # Not correlated: the outer query selects from policy_run too.
    by_root = scope(select(col(PolicyRun.id)).correlate(None), principal, READ,
                    PolicyRun.mission_id)  # fmt: skip
    by_cover = scope(
        select(col(PolicyScore.run_id)).where(col(PolicyScore.mission_id).is_not(None)),
        principal,
        READ,
        PolicyScore.mission_id,
    )
    return union(by_root, by_cover)


def get_run(session: Session, principal: Principal, run_id: uuid.UUID) -> PolicyRun | None:
    """The run if the caller may see it."""
    query = select(PolicyRun).where(
        col(PolicyRun.id) == run_id, col(PolicyRun.id).in_(_scoped(principal))
    )
    return session.scalars(query).one_or_none()


def runs_page(
    session: Session,
    principal: Principal,
    *,
    policy_id: str | None,
    seq: int | None,
    before_seq: int | None,
    limit: int,
) -> list[PolicyRun]:
    """Visible runs, newest first; ``limit + 1`` rows so the caller knows if more follow."""
    query = select(PolicyRun).where(col(PolicyRun.id).in_(_scoped(principal)))
    if policy_id is not None:
        query = query.where(col(PolicyRun.policy_id) == policy_id)
    if seq is not None:
        query = query.where(col(PolicyRun.seq) == seq)
    if before_seq is not None:
        query = query.where(col(PolicyRun.seq) < before_seq)
    return list(session.scalars(query.order_by(col(PolicyRun.seq).desc()).limit(limit + 1)))


def latest_run(
    session: Session,
    principal: Principal,
    *,
    policy_id: str | None,
    mission_id: uuid.UUID | None,
) -> PolicyRun | None:
    """The newest completed run the caller may see (that covered ``mission_id``, if given)."""
    query = select(PolicyRun).where(
        col(PolicyRun.status) == RunStatus.COMPLETED,
        col(PolicyRun.id).in_(_scoped(principal)),
    )
    if policy_id is not None:
        query = query.where(col(PolicyRun.policy_id) == policy_id)
    if mission_id is not None:
        covered = scope(
            select(col(PolicyScore.run_id)).where(col(PolicyScore.mission_id) == mission_id),
            principal,
            READ,
            PolicyScore.mission_id,
        )
        query = query.where(col(PolicyRun.id).in_(covered))
    return session.scalars(query.order_by(col(PolicyRun.seq).desc()).limit(1)).first()


# -- findings -------------------------------------------------------------------------------


def findings_batch(
    session: Session,
    principal: Principal,
    *,
    run_id: uuid.UUID,
    where: Sequence[Any],
    after: tuple[uuid.UUID, uuid.UUID, str] | None,
    limit: int,
) -> list[FindingRow]:
    """Up to ``limit`` visible findings of a run after the (mission, account, rule) key, in
    that order (the primary key's)."""
    f = PolicyFinding
    query = (
        select(
            f, col(PolicyReason.text), col(Account.platform), col(Account.handle), col(Mission.code)
        )
        .outerjoin(PolicyReason, _reason_of(f))
        .outerjoin(Account, col(Account.id) == col(f.account_id))
        .outerjoin(Mission, col(Mission.id) == col(f.mission_id))
        .where(col(f.run_id) == run_id, *where)
    )
    query = scope(query, principal, READ, f.mission_id)
    if after is not None:
        columns = [col(f.mission_id), col(f.account_id), col(f.rule_id)]
        query = query.where(after_key(columns, list(after), descending=False))
    query = query.order_by(col(f.mission_id), col(f.account_id), col(f.rule_id)).limit(limit)
    return list(session.execute(query).all())


def open_findings(
    session: Session, principal: Principal, run_id: uuid.UUID
) -> Iterator[tuple[str, uuid.UUID, uuid.UUID]]:
    """(rule, account, mission) of every visible open finding of a run, for waiver counts."""
    f = PolicyFinding
    query = select(col(f.rule_id), col(f.account_id), col(f.mission_id)).where(
        col(f.run_id) == run_id, col(f.change) != "resolved"
    )
    for row in session.execute(scope(query, principal, READ, f.mission_id)).yield_per(5000):
        yield row[0], row[1], row[2]


# -- account results ------------------------------------------------------------------------


def visible_account(
    session: Session, principal: Principal, account_id: uuid.UUID
) -> tuple[str, str, uuid.UUID] | None:
    """(platform, handle, mission) of the account if the caller may read its mission's policy
    results."""
    query = select(col(Account.platform), col(Account.handle), col(Account.mission_id)).where(
        col(Account.id) == account_id
    )
    row = session.execute(scope(query, principal, READ, Account.mission_id)).one_or_none()
    return None if row is None else (str(row[0]), row[1], row[2])


def account_result(
    session: Session, principal: Principal, *, run_id: uuid.UUID, account_id: uuid.UUID
) -> PolicyAccountResult | None:
    """One account's result row in a run, if the caller may read its mission."""
    r = PolicyAccountResult
    query = select(r).where(col(r.run_id) == run_id, col(r.account_id) == account_id)
    return session.scalars(scope(query, principal, READ, r.mission_id)).one_or_none()


def latest_account_result(
    session: Session, principal: Principal, *, account_id: uuid.UUID, policy_id: str | None
) -> PolicyAccountResult | None:
    """The account's newest result in a completed run (under ``policy_id``, if given)."""
    r = PolicyAccountResult
    query = select(r).join(PolicyRun, col(PolicyRun.id) == col(r.run_id))
    query = query.where(col(r.account_id) == account_id, col(PolicyRun.status) == "completed")
    if policy_id is not None:
        query = query.where(col(r.policy_id) == policy_id)
    query = scope(query, principal, READ, r.mission_id).order_by(col(r.run_seq).desc())
    return session.scalars(query.limit(1)).first()


def _reason_of(finding: Any) -> Any:
    return and_(
        col(PolicyReason.run_id) == col(finding.run_id),
        col(PolicyReason.id) == col(finding.reason_id),
    )


def account_findings(
    session: Session, *, run_id: uuid.UUID, mission_id: uuid.UUID, account_id: uuid.UUID
) -> list[tuple[PolicyFinding, str | None]]:
    """The findings of one account (stored under ``mission_id``) in one run, with reasons."""
    # unscoped: called only after account_result() returned the account's row to this caller
    f = PolicyFinding
    query = (
        select(f, col(PolicyReason.text))
        .outerjoin(PolicyReason, _reason_of(f))
        .where(
            col(f.run_id) == run_id,
            col(f.mission_id) == mission_id,
            col(f.account_id) == account_id,
        )
    )
    return [(row[0], row[1]) for row in session.execute(query)]


def snapshots(
    session: Session, *, run_id: uuid.UUID, account_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The fact snapshots of some accounts in a run (read from the rows that hold them)."""
    # unscoped: the ids come from findings the caller was allowed to read
    r, holder = PolicyAccountResult, _RESULTS.alias("holder")
    query = (
        select(col(r.account_id), holder.c.snapshot)
        .join(holder, and_(holder.c.run_id == col(r.snapshot_run_id),
                           holder.c.account_id == col(r.account_id)))
        .where(col(r.run_id) == run_id, col(r.account_id).in_(account_ids))
    )  # fmt: skip
    return {row[0]: row[1] for row in session.execute(query)}


def snapshot_of(session: Session, result: PolicyAccountResult) -> dict[str, Any]:
    """The fact snapshot of one account result (kept in its own row or an earlier one)."""
    # unscoped: the caller was allowed to read ``result``; the row read is the same account's
    if result.snapshot is not None:
        return result.snapshot
    holder = session.get(PolicyAccountResult, (result.snapshot_run_id, result.account_id))
    return holder.snapshot if holder is not None and holder.snapshot is not None else {}


def run_statuses(
    session: Session, principal: Principal, run_id: uuid.UUID
) -> dict[uuid.UUID, dict[str, str]]:
    """Every visible account's ``{rule_id: status}`` in a run."""
    r = PolicyAccountResult
    rule_ids = rule_orders(session, [run_id]).get(run_id, [])
    query = scope(
        select(col(r.account_id), col(r.statuses)).where(col(r.run_id) == run_id),
        principal,
        READ,
        r.mission_id,
    )
    return {
        row[0]: decode_statuses(row[1], rule_ids) for row in session.execute(query).yield_per(5000)
    }


def account_labels(
    session: Session, account_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str]]:
    """(platform, handle) of the given accounts."""
    # unscoped: the ids come from results the caller was allowed to read
    query = select(col(Account.id), col(Account.platform), col(Account.handle)).where(
        col(Account.id).in_(account_ids)
    )
    return {row[0]: (str(row[1]), row[2]) for row in session.execute(query)}


# -- scores ---------------------------------------------------------------------------------


def run_scores(
    session: Session, principal: Principal, run_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[PolicyScore]]:
    """The per-mission score rows of some runs that the caller may read, by run."""
    query = select(PolicyScore).where(
        col(PolicyScore.run_id).in_(run_ids), col(PolicyScore.mission_id).is_not(None)
    )
    by_run: dict[uuid.UUID, list[PolicyScore]] = {}
    for row in session.scalars(scope(query, principal, READ, PolicyScore.mission_id)):
        by_run.setdefault(row.run_id, []).append(row)
    return by_run


def score_history(
    session: Session,
    principal: Principal,
    *,
    policy_id: str | None,
    mission_id: uuid.UUID | None,
    limit: int,
) -> list[tuple[PolicyRun, list[PolicyScore]]]:
    """The newest ``limit`` completed runs with visible score rows (of ``mission_id`` only, if
    given), oldest first, each with those rows."""
    s = PolicyScore
    rows = scope(select(col(s.run_id)).where(col(s.mission_id).is_not(None)), principal, READ,
                 s.mission_id)  # fmt: skip
    if mission_id is not None:
        rows = rows.where(col(s.mission_id) == mission_id)
    runs_query = select(PolicyRun).where(
        col(PolicyRun.status) == RunStatus.COMPLETED, col(PolicyRun.id).in_(rows)
    )
    if policy_id is not None:
        runs_query = runs_query.where(col(PolicyRun.policy_id) == policy_id)
    runs = list(session.scalars(runs_query.order_by(col(PolicyRun.seq).desc()).limit(limit)))
    if not runs:
        return []
    score_query = select(s).where(
        col(s.run_id).in_([run.id for run in runs]), col(s.mission_id).is_not(None)
    )
    if mission_id is not None:
        score_query = score_query.where(col(s.mission_id) == mission_id)
    by_run: dict[uuid.UUID, list[PolicyScore]] = {}
    for row in session.scalars(scope(score_query, principal, READ, s.mission_id)):
        by_run.setdefault(row.run_id, []).append(row)
    return [(run, by_run.get(run.id, [])) for run in reversed(runs)]
