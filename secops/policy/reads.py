"""What callers read about policies, runs and scores (findings and results: ``results.py``).

Every read is limited to the missions on which the caller holds ``policy:read``; a run or
mission outside them is the same 404 as a missing one. Counts of waived results are worked out
at the time of reading from the active waivers; the stored counts and scores never change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Final

from sqlmodel import Session

from secops.core.db import clock_of, info_of
from secops.core.errors import BadRequest, NotFound
from secops.core.pagination import clamp_limit, decode_cursor, encode_cursor
from secops.core.principal import Permission, Principal
from secops.policy import loader, repository
from secops.policy.models import PolicyRun, PolicyScore
from secops.policy.schemas import (
    HistoryPoint,
    MissionScore,
    PolicyDetail,
    PolicySummary,
    RunPage,
    RunRead,
    ScoreHistory,
    ScoreRead,
    ScoreReport,
)
from secops.policy.scoring import Tally
from secops.policy.waivers import service as waiver_service
from secops.policy.waivers.service import WaiverIndex

RUN_NOT_FOUND: Final = "Policy run not found, or not one of yours."
NO_RUN: Final = "No completed policy run covers your missions yet; run `secops policy evaluate`."
MISSION_NOT_FOUND: Final = "Mission not found, or not one of yours."
_BAD_CURSOR: Final = "The cursor is not valid; start again from the first page."


# -- policies -------------------------------------------------------------------------------


def _summary(policy: loader.LoadedPolicy) -> dict[str, Any]:
    header = policy.spec.policy
    return {
        "id": header.id,
        "version": header.version,
        "title": header.title,
        "owner": header.owner,
        "review_by": header.review_by,
        "sha256": policy.sha256,
        "rule_count": len(policy.spec.rules),
        "waiver_max_days": header.waiver_max_days,
        "waiver_warning_days": header.waiver_warning_days,
    }


def list_policies(session: Session) -> list[PolicySummary]:
    """The policies loaded from the policies directory (``PolicyInvalid`` if any file is bad)."""
    policies = loader.load_directory(info_of(session, "settings").effective_policies_dir)
    return [PolicySummary(**_summary(policies[key])) for key in sorted(policies)]


def get_policy(session: Session, *, policy_id: str) -> PolicyDetail:
    """One loaded policy with its rules."""
    policy = loader.load_policy(info_of(session, "settings"), policy_id)
    header = policy.spec.policy
    return PolicyDetail(
        **_summary(policy),
        description=header.description,
        thresholds={k: v.model_dump(mode="json") for k, v in header.thresholds.items()},
        rules=[
            r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in policy.spec.rules
        ],
    )


# -- runs -----------------------------------------------------------------------------------


def score_fields(tally: Tally, *, waived: int | None = None) -> dict[str, Any]:
    """The fields of a ``ScoreRead`` for a tally."""
    return {
        "accounts": tally.accounts,
        "passed": tally.passed,
        "failed": tally.failed,
        "manual": tally.manual,
        "error": tally.error,
        "not_applicable": tally.not_applicable,
        "open": tally.open,
        "weight_pass": tally.weight_pass,
        "weight_total": tally.weight_total,
        "score": tally.score,
        "waived": waived,
    }


def tally_of(rows: Iterable[PolicyScore]) -> Tally:
    """Score rows added up (weights summed, then divided once)."""
    total = Tally()
    for row in rows:
        total.merge(
            Tally(
                passed=row.pass_count,
                failed=row.fail_count,
                manual=row.manual_count,
                error=row.error_count,
                not_applicable=row.na_count,
                weight_pass=row.weight_pass,
                weight_total=row.weight_total,
                accounts=row.account_count,
            )
        )
    return total


def run_read(
    run: PolicyRun, scores: Sequence[PolicyScore], *, waived: int | None = None
) -> RunRead:
    """A run with the summary of the score rows given (the caller's missions)."""
    data = {name: getattr(run, name) for name in RunRead.model_fields if name != "summary"}
    return RunRead(**data, summary=ScoreRead(**score_fields(tally_of(scores), waived=waived)))


def visible_run(session: Session, principal: Principal, run_id: uuid.UUID) -> PolicyRun:
    """The run, or 404 if it does not exist or covered none of the caller's missions."""
    run = repository.get_run(session, principal, run_id)
    if run is None:
        raise NotFound(RUN_NOT_FOUND)
    return run


def list_runs(
    session: Session,
    *,
    principal: Principal,
    policy_id: str | None = None,
    seq: int | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> RunPage:
    """Runs that covered any of the caller's missions, newest first."""
    size = clamp_limit(limit)
    before = None
    if cursor is not None:
        tag, before = decode_cursor(cursor, arity=2)
        if tag != "runs" or type(before) is not int:
            raise BadRequest(_BAD_CURSOR)
    runs = repository.runs_page(
        session, principal, policy_id=policy_id, seq=seq, before_seq=before, limit=size
    )
    scores = repository.run_scores(session, principal, [run.id for run in runs[:size]])
    items = [run_read(run, scores.get(run.id, [])) for run in runs[:size]]
    next_cursor = encode_cursor(["runs", runs[size - 1].seq]) if len(runs) > size else None
    return RunPage(items=items, next_cursor=next_cursor)


def _waived_by_mission(
    session: Session, principal: Principal, run: PolicyRun
) -> tuple[dict[uuid.UUID, int], WaiverIndex]:
    index = waiver_service.active_index(
        session, policy_id=run.policy_id, now=clock_of(session).now()
    )
    waived: dict[uuid.UUID, int] = {}
    if len(index) == 0:
        return waived, index
    for rule_id, account_id, mission_id in repository.open_findings(session, principal, run.id):
        if index.waiver_for(rule_id, account_id, mission_id) is not None:
            waived[mission_id] = waived.get(mission_id, 0) + 1
    return waived, index


def get_run(session: Session, *, principal: Principal, run_id: uuid.UUID) -> RunRead:
    """One run, summarised over the caller's missions, waived results counted."""
    run = visible_run(session, principal, run_id)
    scores = repository.run_scores(session, principal, [run.id]).get(run.id, [])
    waived, _ = _waived_by_mission(session, principal, run)
    return run_read(run, scores, waived=sum(waived.values()))


def run_for(
    session: Session,
    principal: Principal,
    *,
    run_id: uuid.UUID | None,
    policy_id: str | None,
    mission_id: uuid.UUID | None,
) -> PolicyRun:
    """The run asked for, or the newest completed one the caller may see (that covered
    ``mission_id``, if given); 404 when there is none."""
    if run_id is not None:
        return visible_run(session, principal, run_id)
    if mission_id is not None:
        _check_mission(session, principal, mission_id)
    run = repository.latest_run(session, principal, policy_id=policy_id, mission_id=mission_id)
    if run is None:
        raise NotFound(NO_RUN)
    return run


def _check_mission(session: Session, principal: Principal, mission_id: uuid.UUID) -> None:
    if repository.visible_mission(session, principal, mission_id, Permission.POLICY_READ) is None:
        raise NotFound(MISSION_NOT_FOUND)


# -- scores ---------------------------------------------------------------------------------


def scores(
    session: Session,
    *,
    principal: Principal,
    run_id: uuid.UUID | None = None,
    policy_id: str | None = None,
) -> ScoreReport:
    """Scores of a run (default: the newest completed one) per mission you can read, and overall
    (those missions together), with waived results counted beside each score."""
    run = run_for(session, principal, run_id=run_id, policy_id=policy_id, mission_id=None)
    rows = repository.run_scores(session, principal, [run.id]).get(run.id, [])
    waived, _ = _waived_by_mission(session, principal, run)
    codes = repository.mission_codes(session, {r.mission_id for r in rows if r.mission_id})
    missions = []
    for row in sorted(rows, key=lambda r: codes.get(r.mission_id, "") if r.mission_id else ""):
        assert row.mission_id is not None  # noqa: S101 - run_scores returns mission rows only
        score = score_fields(tally_of([row]), waived=waived.get(row.mission_id, 0))
        missions.append(
            MissionScore(**score, mission_id=row.mission_id, mission_code=codes.get(row.mission_id))
        )
    total_waived = sum(waived.values())
    return ScoreReport(
        run=run_read(run, rows, waived=total_waived),
        overall=ScoreRead(**score_fields(tally_of(rows), waived=total_waived)),
        missions=missions,
    )


def score_history(
    session: Session,
    *,
    principal: Principal,
    policy_id: str | None = None,
    mission_id: uuid.UUID | None = None,
    limit: int | None = None,
) -> ScoreHistory:
    """The score at each of the newest completed runs, oldest first: one mission's own
    accounts, or every mission you can read together (the ministry, for a ministry-wide role)."""
    code = None
    if mission_id is not None:
        _check_mission(session, principal, mission_id)
        code = repository.mission_codes(session, [mission_id]).get(mission_id)
    history = repository.score_history(
        session, principal, policy_id=policy_id, mission_id=mission_id, limit=clamp_limit(limit)
    )
    points = [
        HistoryPoint(
            run_id=run.id,
            run_seq=run.seq,
            policy_id=run.policy_id,
            policy_version=run.policy_version,
            started_at=run.started_at,
            score=ScoreRead(**score_fields(tally_of(rows))),
        )
        for run, rows in history
    ]
    return ScoreHistory(mission_id=mission_id, mission_code=code, points=points)
