"""Findings and one account's results, read with their evidence and the waivers covering them.

Evidence is read from the account's snapshot in the run (the facts as they were evaluated), so
it shows each deciding value with its source and its age at the time. Waivers are applied here,
at the time of reading (:func:`secops.policy.waivers.service.active_index`), never written over
the stored results: a revoked or expired waiver stops covering a finding on the next read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlmodel import Session, col

from secops.core.db import clock_of
from secops.core.errors import BadRequest, NotFound
from secops.core.pagination import clamp_limit, decode_cursor, encode_cursor
from secops.core.principal import Principal
from secops.policy import repository
from secops.policy.evaluation import decode_statuses
from secops.policy.evaluator import evidence_from_snapshot
from secops.policy.models import PolicyAccountResult, PolicyFinding, PolicyRun
from secops.policy.outcomes import Change
from secops.policy.reads import run_for, run_read, score_fields, visible_run
from secops.policy.schemas import (
    AccountResults,
    Evidence,
    FindingFilters,
    FindingPage,
    FindingRead,
    RuleResultRead,
    ScoreRead,
    WaiverRef,
)
from secops.policy.scoring import Tally
from secops.policy.trends import is_open
from secops.policy.waivers import service as waiver_service
from secops.policy.waivers.service import WaiverIndex

ACCOUNT_NOT_FOUND: Final = "Account not found, or not one of yours."
_BAD_CURSOR: Final = "The cursor is not valid; start again from the first page."


# -- findings -------------------------------------------------------------------------------


def evidence_items(snapshot: dict[str, Any], fields: Sequence[str], at: datetime) -> list[Evidence]:
    """The deciding facts of a result, read from the account's snapshot in the run (ages at
    ``at``, the run's time)."""
    items = []
    for name, found in evidence_from_snapshot(snapshot, fields, at).items():
        provenance = found["provenance"] or {}
        items.append(
            Evidence(
                field=name,
                value=found["value"],
                group=found["group"],
                recorded=found["provenance"] is not None,
                source=provenance.get("source"),
                observed_at=provenance.get("observed_at"),
                attested_by=provenance.get("attested_by"),
                age_days=provenance.get("age_days"),
                status=provenance.get("status"),
                reason=provenance.get("reason"),
            )
        )
    return items


def _conditions(run: PolicyRun, filters: FindingFilters) -> list[Any]:
    f = PolicyFinding
    where: list[Any] = []
    if filters.status is None and filters.change is None:
        where.append(col(f.change) != Change.RESOLVED.value)
    for column, value in (
        (f.mission_id, filters.mission_id),
        (f.rule_id, filters.rule_id),
        (f.status, filters.status),
        (f.change, filters.change),
        (f.account_id, filters.account_id),
    ):
        if value is not None:
            where.append(col(column) == (value.value if hasattr(value, "value") else value))
    if filters.severity is not None:
        # A finding's severity is its rule's, as the run stored the rule.
        wanted = str(getattr(filters.severity, "value", filters.severity))
        rules = [rule_id for rule_id, rule in run.rules.items() if rule.get("severity") == wanted]
        where.append(col(f.rule_id).in_(rules))
    return where


def _finding_cursor(cursor: str | None) -> tuple[uuid.UUID, uuid.UUID, str] | None:
    if cursor is None:
        return None
    tag, mission_id, account_id, rule_id = decode_cursor(cursor, arity=4)
    try:
        if tag != "findings" or type(rule_id) is not str:
            raise ValueError(tag)
        return uuid.UUID(str(mission_id)), uuid.UUID(str(account_id)), rule_id
    except ValueError:
        raise BadRequest(_BAD_CURSOR) from None


def list_findings(
    session: Session,
    *,
    principal: Principal,
    filters: FindingFilters,
    run_id: uuid.UUID | None = None,
    policy_id: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> FindingPage:
    """Findings of a run (default: the newest completed run you can see), by mission, account
    and rule."""
    run = run_for(session, principal, run_id=run_id, policy_id=policy_id,
                   mission_id=filters.mission_id)  # fmt: skip
    size = clamp_limit(limit)
    index = waiver_service.active_index(
        session, policy_id=run.policy_id, now=clock_of(session).now()
    )
    where, after = _conditions(run, filters), _finding_cursor(cursor)
    batch_size = size + 1 if filters.waived is None else 500
    kept: list[tuple[Any, WaiverRef | None]] = []
    while len(kept) <= size:
        batch = repository.findings_batch(
            session, principal, run_id=run.id, where=where, after=after, limit=batch_size
        )
        for row in batch:
            waiver = _waiver(index, row[0])
            if filters.waived is None or filters.waived == (waiver is not None):
                kept.append((row, waiver))
        if len(batch) < batch_size:
            break
        last_row = batch[-1][0]
        after = (last_row.mission_id, last_row.account_id, last_row.rule_id)
    page = kept[:size]
    snaps = repository.snapshots(
        session, run_id=run.id, account_ids={row[0].account_id for row, _ in page}
    )
    items = [_finding_read(run, row, waiver, snaps.get(row[0].account_id)) for row, waiver in page]
    next_cursor = None
    if len(kept) > size:
        last = page[-1][0][0]
        next_cursor = encode_cursor(
            ["findings", str(last.mission_id), str(last.account_id), last.rule_id]
        )
    return FindingPage(items=items, next_cursor=next_cursor)


def _waiver(index: WaiverIndex, finding: PolicyFinding) -> WaiverRef | None:
    if not is_open(finding.status):
        return None
    found = index.waiver_for(finding.rule_id, finding.account_id, finding.mission_id)
    return None if found is None else WaiverRef(id=found.id, expires_at=found.expires_at)


def _finding_read(
    run: PolicyRun, row: Any, waiver: WaiverRef | None, snap: dict[str, Any] | None
) -> FindingRead:
    finding: PolicyFinding = row[0]
    rule = run.rules.get(finding.rule_id, {})
    fields = [name for name in finding.fields.split(",") if name]
    _, reason, platform, handle, mission_code = row
    return FindingRead(
        run_id=finding.run_id,
        run_seq=run.seq,
        policy_id=run.policy_id,
        account_id=finding.account_id,
        platform=platform,
        handle=handle,
        mission_id=finding.mission_id,
        mission_code=mission_code,
        rule_id=finding.rule_id,
        title=rule.get("title"),
        severity=rule.get("severity", "info"),
        criticality=rule.get("criticality", "shall"),
        status=finding.status,
        reason=reason or "",
        change=finding.change,
        previous_status=finding.previous_status,
        first_seen_at=finding.first_seen_at,
        evidence=evidence_items(snap or {}, fields, run.started_at),
        details=finding.details,
        remediation=rule.get("remediation"),
        waiver=waiver,
    )


# -- one account ----------------------------------------------------------------------------


def account_results(
    session: Session,
    *,
    principal: Principal,
    account_id: uuid.UUID,
    run_id: uuid.UUID | None = None,
    policy_id: str | None = None,
) -> AccountResults:
    """Every rule's result on one account (newest completed run unless ``run_id``), evidence
    from the facts as they were evaluated. An account never evaluated has no run and no results;
    one outside the caller's missions is 404, like a missing one."""
    account = repository.visible_account(session, principal, account_id)
    if account is None:
        raise NotFound(ACCOUNT_NOT_FOUND)
    platform, handle, mission_id = account
    if run_id is not None:
        visible_run(session, principal, run_id)
        row = repository.account_result(session, principal, run_id=run_id, account_id=account_id)
        if row is None:
            raise NotFound("That run did not evaluate this account.")
    else:
        row = repository.latest_account_result(
            session, principal, account_id=account_id, policy_id=policy_id
        )
    if row is None:
        return AccountResults(account_id=account_id, platform=platform, handle=handle,
                              mission_id=mission_id, run=None, score=None, results=[])  # fmt: skip
    run = session.get(PolicyRun, row.run_id)
    assert run is not None  # noqa: S101 - results are written with their run
    results = _rule_results(session, run, row)
    tally = Tally(
        passed=row.pass_count,
        failed=row.fail_count,
        manual=row.manual_count,
        error=row.error_count,
        not_applicable=row.na_count,
        weight_pass=row.weight_pass,
        weight_total=row.weight_total,
        accounts=1,
    )
    scores = repository.run_scores(session, principal, [run.id]).get(run.id, [])
    return AccountResults(
        account_id=account_id,
        platform=platform,
        handle=handle,
        mission_id=row.mission_id,
        run=run_read(run, scores),
        score=ScoreRead(**score_fields(tally, waived=sum(1 for r in results if r.waiver))),
        results=results,
    )


def _rule_results(
    session: Session, run: PolicyRun, row: PolicyAccountResult
) -> list[RuleResultRead]:
    findings = {
        f.rule_id: (f, reason)
        for f, reason in repository.account_findings(
            session, run_id=run.id, mission_id=row.mission_id, account_id=row.account_id
        )
    }
    index = waiver_service.active_index(
        session, policy_id=run.policy_id, now=clock_of(session).now()
    )
    snapshot = repository.snapshot_of(session, row)
    results = []
    for rule_id, status in decode_statuses(row.statuses, run.rule_ids).items():
        rule = run.rules.get(rule_id, {})
        finding, reason = findings.get(rule_id, (None, None))
        fields = finding.fields.split(",") if finding and finding.fields else rule.get("fields", [])
        results.append(
            RuleResultRead(
                rule_id=rule_id,
                title=rule.get("title"),
                severity=rule.get("severity", "info"),
                criticality=rule.get("criticality", "shall"),
                status=status,
                reason=reason if finding else None,
                change=finding.change if finding else None,
                first_seen_at=finding.first_seen_at if finding else None,
                evidence=evidence_items(snapshot, fields, run.started_at),
                remediation=rule.get("remediation"),
                waiver=_waiver(index, finding) if finding else None,
            )
        )
    return results
