"""Upsert many accounts at once, under the same rules as one, with one audit event per mission.

Everything is checked before anything is written: missions the caller may write, owners from
the account's mission or one above it, (platform, handle) and external ids unique in the batch
and against the database, existing rows on the caller's missions. Any error and nothing is
written: ``ValidationFailed`` lists every row (index in ``rows``) and field. ``dry_run`` returns
the same result, errors included, without writing.

Rows are written with executemany inserts and primary-key updates; the audit trail gets one
``account.import`` event per mission with the counts and (up to ``AUDIT_ROW_LIMIT``) the rows
created or changed and which fields changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session

from secops.accounts import repository
from secops.accounts.models import Account
from secops.accounts.results import UpsertOutcome
from secops.accounts.schemas import AccountCreate
from secops.audit import service as audit_service
from secops.core.db import clock_of, new_id
from secops.core.errors import ValidationFailed
from secops.core.principal import Permission, Principal
from secops.missions.scope import descendants

AUDIT_ROW_LIMIT = 1000
ERROR_LIMIT = 200
WRITE = Permission.ACCOUNTS_WRITE


@dataclass
class BulkAccountsResult:
    """What a bulk upsert did (or would do): per-row outcomes, counts, errors."""

    ids: list[uuid.UUID | None] = field(default_factory=list)
    outcomes: list[UpsertOutcome | None] = field(default_factory=list)
    changed_fields: list[tuple[str, ...]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def count(self, outcome: UpsertOutcome) -> int:
        """Rows with this outcome."""
        return sum(1 for o in self.outcomes if o == outcome)

    @property
    def created(self) -> int:
        """Rows added."""
        return self.count(UpsertOutcome.CREATED)

    @property
    def updated(self) -> int:
        """Rows changed."""
        return self.count(UpsertOutcome.UPDATED)

    @property
    def unchanged(self) -> int:
        """Rows already as asked."""
        return self.count(UpsertOutcome.UNCHANGED)


class _Checker:
    """Collects row errors while the batch is checked."""

    def __init__(self, result: BulkAccountsResult) -> None:
        self.result = result

    def fail(self, index: int, loc: str, msg: str, kind: str) -> None:
        self.result.errors.append({"loc": ["rows", index, loc], "msg": msg, "type": kind})


def bulk_upsert_accounts(
    session: Session,
    *,
    principal: Principal,
    rows: Sequence[AccountCreate],
    source: str = "import",
    dry_run: bool = False,
) -> BulkAccountsResult:
    """Create or update every row by (platform, handle); all or nothing."""
    result = BulkAccountsResult()
    checker = _Checker(result)
    writable = repository.missions_by_ids(session, principal, {r.mission_id for r in rows}, WRITE)
    owners = repository.person_missions(
        session, principal, {r.owner_id for r in rows if r.owner_id}
    )
    existing = repository.accounts_by_handles(session, [(r.platform, r.handle) for r in rows])
    taken = repository.accounts_by_external_ids(
        session, [(r.platform, r.external_id) for r in rows if r.external_id]
    )
    plans = _plan(session, rows, writable, owners, existing, taken, checker)
    if result.errors:
        if dry_run:
            return result
        raise ValidationFailed(
            f"{len(result.errors)} problems in the rows; nothing was changed.",
            errors=result.errors[:ERROR_LIMIT],
        )
    if not dry_run:
        _write(session, plans)
        _audit(session, principal, plans, writable, source)
    return result


@dataclass
class _Plan:
    index: int
    mission_id: uuid.UUID
    outcome: UpsertOutcome
    values: dict[str, Any]
    changed: tuple[str, ...]
    handle: str


class _Context:
    """What the checks of one batch share: look-ups done once, and the keys seen so far."""

    def __init__(
        self,
        session: Session,
        writable: dict[uuid.UUID, str],
        owners: dict[uuid.UUID, uuid.UUID],
        existing: dict[tuple[str, str], dict[str, Any]],
        taken: dict[tuple[str, str], uuid.UUID],
    ) -> None:
        self.session = session
        self.writable, self.owners, self.existing, self.taken = writable, owners, existing, taken
        self.seen: set[tuple[str, str]] = set()
        self.seen_external: set[tuple[str, str]] = set()
        self.under: dict[uuid.UUID, frozenset[uuid.UUID]] = {}

    def owner_fits(self, owner_mission: uuid.UUID, mission_id: uuid.UUID) -> bool:
        """The owner's mission is the account's or one above it."""
        if owner_mission == mission_id:
            return True
        if owner_mission not in self.under:
            self.under[owner_mission] = descendants(self.session, owner_mission)
        return mission_id in self.under[owner_mission]


def _plan(
    session: Session,
    rows: Sequence[AccountCreate],
    writable: dict[uuid.UUID, str],
    owners: dict[uuid.UUID, uuid.UUID],
    existing: dict[tuple[str, str], dict[str, Any]],
    taken: dict[tuple[str, str], uuid.UUID],
    checker: _Checker,
) -> list[_Plan]:
    result = checker.result
    context = _Context(session, writable, owners, existing, taken)
    plans = []
    now = clock_of(session).now()
    for index, row in enumerate(rows):
        errors_before = len(result.errors)
        current = existing.get((str(row.platform), row.handle))
        _check_row(context, checker, index, row, current)
        if len(result.errors) > errors_before:
            result.ids.append(None)
            result.outcomes.append(None)
            result.changed_fields.append(())
            continue
        plan = _plan_row(index, row, current, now)
        result.ids.append(plan.values["id"])
        result.outcomes.append(plan.outcome)
        result.changed_fields.append(plan.changed)
        plans.append(plan)
    return plans


def _check_row(
    context: _Context,
    checker: _Checker,
    index: int,
    row: AccountCreate,
    current: dict[str, Any] | None,
) -> None:
    key = (str(row.platform), row.handle)
    if key in context.seen:
        checker.fail(index, "handle", "appears twice in the file for this platform", "unique")
    context.seen.add(key)
    if row.mission_id not in context.writable:
        checker.fail(index, "mission_id", "mission not found, or not one you may write", "scope")
    if current is not None and current["mission_id"] not in context.writable:
        checker.fail(index, "handle", "held by an account outside your missions", "unique")
    if row.owner_id is not None:
        owner_mission = context.owners.get(row.owner_id)
        if owner_mission is None:
            checker.fail(index, "owner_id", "owner not found on your missions", "scope")
        elif not context.owner_fits(owner_mission, row.mission_id):
            checker.fail(index, "owner_id", "owner of another mission", "owner")
    if row.external_id:
        ext = (str(row.platform), row.external_id)
        holder = context.taken.get(ext)
        if ext in context.seen_external or (
            holder is not None and (current is None or holder != current["id"])
        ):
            checker.fail(index, "external_id", "already in use on this platform", "unique")
        context.seen_external.add(ext)


def _plan_row(index: int, row: AccountCreate, current: dict[str, Any] | None, now: Any) -> _Plan:
    if current is None:
        values = row.model_dump()
        values.update(id=new_id(), created_at=now, updated_at=now, version=1)
        return _Plan(index, row.mission_id, UpsertOutcome.CREATED, values, (), row.handle)
    requested = row.model_dump(exclude_unset=True, exclude={"platform", "handle"})
    changed = tuple(sorted(k for k, v in requested.items() if current[k] != v))
    values = {"id": current["id"]}
    if changed:
        values.update({k: requested[k] for k in changed})
        values.update(updated_at=now, version=current["version"] + 1)
    outcome = UpsertOutcome.UPDATED if changed else UpsertOutcome.UNCHANGED
    return _Plan(index, current["mission_id"], outcome, values, changed, row.handle)


def _write(session: Session, plans: list[_Plan]) -> None:
    session.flush()
    inserts = [p.values for p in plans if p.outcome == UpsertOutcome.CREATED]
    if inserts:
        session.execute(insert(Account), inserts)
    by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for plan in plans:
        if plan.outcome == UpsertOutcome.UPDATED:
            by_fields.setdefault(tuple(sorted(plan.values)), []).append(plan.values)
    for batch in by_fields.values():
        session.execute(update(Account), batch)


def _audit(
    session: Session,
    principal: Principal,
    plans: list[_Plan],
    missions: dict[uuid.UUID, str],
    source: str,
) -> None:
    per_mission: dict[uuid.UUID, list[_Plan]] = {}
    for plan in plans:
        per_mission.setdefault(plan.mission_id, []).append(plan)
    for mission_id, mission_plans in sorted(per_mission.items(), key=lambda kv: missions[kv[0]]):
        touched = [p for p in mission_plans if p.outcome != UpsertOutcome.UNCHANGED]
        if not touched:
            continue
        audit_service.record(
            session,
            principal=principal,
            action="account.import",
            object_type="account",
            mission_id=mission_id,
            details={
                "source": source,
                "rows": len(mission_plans),
                "created": sum(p.outcome == UpsertOutcome.CREATED for p in mission_plans),
                "updated": sum(p.outcome == UpsertOutcome.UPDATED for p in mission_plans),
                "truncated": len(touched) > AUDIT_ROW_LIMIT,
                "accounts": [
                    {
                        "id": str(p.values["id"]),
                        "handle": p.handle,
                        "outcome": str(p.outcome),
                        "fields": list(p.changed),
                    }
                    for p in touched[:AUDIT_ROW_LIMIT]
                ],
            },
        )
