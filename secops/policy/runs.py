"""Evaluate a policy over the accounts a caller may evaluate, and store the run in one transaction.

The policy is loaded whole (a broken file refuses the run), the facts are read in a few bulk
queries, each account's previous result under the same policy in one more, and the results are
written in batches with multi-row inserts (COPY on PostgreSQL, on a thread of its own while the
next batch is evaluated). Passes are tested, not explained: only a pass that resolves a
finding gets its own sentence. Evaluations are serialised: a run reads the results of the one
before it, so two at once would each miss the other.
"""

from __future__ import annotations

import gc
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any, Final

from sqlmodel import Session

from secops.audit import service as audit_service
from secops.audit.models import Outcome
from secops.core.config import Settings
from secops.core.db import clock_of, info_of
from secops.core.errors import NotFound, SecopsError
from secops.core.logging import get_logger
from secops.core.principal import Everywhere, Permission, Principal, PrincipalKind, system_principal
from secops.missions.scope import descendants
from secops.policy import loader, repository
from secops.policy.checks import Lookup
from secops.policy.evaluation import RunRows
from secops.policy.evaluator import CompiledPolicy, PreviousState, SnapshotWriter
from secops.policy.facts import AccountFacts, load_facts
from secops.policy.models import PolicyRun, RunStatus, RunTrigger
from secops.policy.outcomes import RuleResult
from secops.policy.spec import AllOf, AnyOf, Condition, Leaf, Not, PolicyFile, Quantifier

log = get_logger("secops.policy")

MISSION_NOT_FOUND: Final = "Mission not found, or not one of yours."
# Accounts evaluated between two writes: bounds the rows held in memory.
BATCH_ACCOUNTS: Final = 5000


def evaluate(
    session: Session,
    *,
    principal: Principal,
    policy_id: str | None = None,
    mission_id: uuid.UUID | None = None,
    trigger: RunTrigger = RunTrigger.MANUAL,
) -> PolicyRun:
    """Evaluate a loaded policy (the only one when ``policy_id`` is None) over the accounts of
    ``mission_id`` and the missions under it (every mission the caller may evaluate when None);
    store the run, its results, findings and scores, and audit it. Returns the completed run.

    Raises ``PolicyInvalid`` if any policy file has a problem, ``NotFound`` for an unknown
    policy or a mission the caller may not evaluate.
    """
    loaded = loader.load_policy(_settings(session), policy_id)
    missions = _scope(session, principal, mission_id)
    return _evaluate(session, principal, loaded, mission_id, missions, trigger)


def evaluate_scheduled(session: Session) -> list[uuid.UUID]:
    """Evaluate every loaded policy ministry-wide as the worker; the ids of the runs made.

    A policy whose evaluation fails is stored as a ``failed`` run with its error (and audited);
    the other policies are still evaluated. A broken policy file stops everything
    (``PolicyInvalid``): nothing half-loads.
    """
    principal = system_principal("worker")
    policies = loader.load_directory(_settings(session).effective_policies_dir)
    run_ids: list[uuid.UUID] = []
    for policy_id in sorted(policies):
        loaded = policies[policy_id]
        try:
            with session.begin_nested():
                run = _evaluate(session, principal, loaded, None, None, RunTrigger.SCHEDULED)
        except Exception as exc:  # one policy's failure must not stop the others
            log.error("policy.evaluate_failed", policy_id=policy_id, error=type(exc).__name__)
            run = _failed_run(session, principal, loaded, exc)
        run_ids.append(run.id)
    return run_ids


def condition_fields(condition: Condition | None) -> list[str]:
    """Every field a condition names, collections by their own name, in first-use order."""
    names: list[str] = []

    def walk(node: Condition) -> None:
        if isinstance(node, Leaf):
            names.append(node.field)
        elif isinstance(node, Quantifier):
            names.append(node.collection)
        elif isinstance(node, AllOf):
            for child in node.all:
                walk(child)
        elif isinstance(node, AnyOf):
            for child in node.any:
                walk(child)
        elif isinstance(node, Not):
            walk(node.not_)

    if condition is not None:
        walk(condition)
    return list(dict.fromkeys(names))


def rule_table(spec: PolicyFile) -> dict[str, dict[str, Any]]:
    """Each rule as a run stores it: what a reader needs after the policy file has changed."""
    return {
        rule.id: {
            "title": rule.title,
            "severity": rule.severity.value,
            "criticality": rule.criticality.value,
            "remediation": rule.remediation,
            "check": rule.check,
            "fields": condition_fields(rule.condition),
        }
        for rule in spec.rules
    }


def _settings(session: Session) -> Settings:
    settings: Settings = info_of(session, "settings")
    return settings


def _scope(
    session: Session, principal: Principal, mission_id: uuid.UUID | None
) -> frozenset[uuid.UUID] | None:
    """The missions to evaluate: None for every mission; else the set (maybe empty)."""
    reach = principal.missions_with(Permission.POLICY_RUN)
    if mission_id is None:
        return None if isinstance(reach, Everywhere) else reach
    if repository.visible_mission(session, principal, mission_id, Permission.POLICY_RUN) is None:
        raise NotFound(MISSION_NOT_FOUND)
    subtree = descendants(session, mission_id)
    return subtree if isinstance(reach, Everywhere) else subtree & reach


def _new_run(
    session: Session,
    principal: Principal,
    loaded: loader.LoadedPolicy,
    mission_id: uuid.UUID | None,
    trigger: RunTrigger,
    status: RunStatus,
) -> PolicyRun:
    repository.lock_runs(session)
    run = PolicyRun(
        seq=repository.next_run_seq(session),
        policy_id=loaded.id,
        policy_version=loaded.version,
        policy_sha256=loaded.sha256,
        policy_title=loaded.spec.policy.title,
        mission_id=mission_id,
        trigger=trigger,
        triggered_by=None if principal.kind is PrincipalKind.SYSTEM else principal.id,
        status=status,
        started_at=clock_of(session).now(),
        rules=rule_table(loaded.spec),
        rule_ids=[rule.id for rule in loaded.spec.rules],
    )
    session.add(run)
    session.flush()
    return run


def _evaluate(
    session: Session,
    principal: Principal,
    loaded: loader.LoadedPolicy,
    mission_id: uuid.UUID | None,
    missions: frozenset[uuid.UUID] | None,
    trigger: RunTrigger,
) -> PolicyRun:
    compiled = CompiledPolicy.build(loaded.spec)
    run = _new_run(session, principal, loaded, mission_id, trigger, RunStatus.RUNNING)
    with _cycle_collection_paused():
        rows = _evaluate_accounts(session, principal, compiled, run, missions)
    repository.insert_scores(session, rows.score_rows())
    total = rows.total()
    run.status = RunStatus.COMPLETED
    run.account_count = total.accounts
    run.finished_at = clock_of(session).now()
    session.add(run)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="policy.evaluate",
        object_type="policy_run",
        object_id=run.id,
        mission_id=run.mission_id,
        details={**run.summary(), **_counts(total), "score": total.score},
    )
    return run


def _evaluate_accounts(
    session: Session,
    principal: Principal,
    compiled: CompiledPolicy,
    run: PolicyRun,
    missions: frozenset[uuid.UUID] | None,
) -> RunRows:
    """Evaluate every account in scope against its previous result; write rows in batches."""
    now = run.started_at
    facts = load_facts(session, principal, mission_ids=missions)
    # In the findings' key order: each batch then extends the table's b-tree at its end.
    facts.sort(key=_storage_order)
    rows = RunRows(run.id, run.seq, run.policy_id, now, run.rules, repository.encoder(session))
    # Kept as stored text until the account's turn: parsed dicts for every account at once
    # would hold hundreds of megabytes on a large ministry.
    previous = {
        row[0]: row[1:]
        for row in repository.previous_results(
            session, principal, policy_id=run.policy_id, mission_ids=missions
        )
    }
    runs = {uuid.UUID(str(row[0])): row[0] for row in previous.values()}  # a few, as stored
    alignments = {
        runs[run_id]: rows.alignment(rule_ids)
        for run_id, rule_ids in repository.rule_orders(session, runs).items()
    }
    account_key = repository.encoder(session).uuid
    lookup = _mailboxes(session, facts).get
    snapshot = SnapshotWriter()
    evaluate, explain = compiled.evaluate, compiled.explain
    with repository.bulk_writes(session) as write:
        for index, account in enumerate(facts, start=1):
            stored = previous.pop(account_key(account.account_id), None)
            before = state = None
            if stored is not None:
                before = rows.previous(alignments[stored[0]], *stored[1:])
                state = rows.previous_state(before)
            # Passes are only tested: a pass that resolves a finding is explained on its own.
            results = evaluate(account, now=now, previous=state, lookup=lookup,
                               explain_passes=False)  # fmt: skip
            rows.add(account.account_id, account.mission_id, results, before, snapshot(account),
                     partial(_explain, explain, account, now, state, lookup))  # fmt: skip
            if index % BATCH_ACCOUNTS == 0:
                write(*rows.drain())
        write(*rows.drain())
    return rows


def _storage_order(facts: AccountFacts) -> tuple[int, int]:
    return facts.mission_id.int, facts.account_id.int  # ints compare in C, UUIDs do not


def _explain(
    explain: Callable[..., RuleResult],
    facts: AccountFacts,
    now: datetime,
    previous: PreviousState | None,
    lookup: Lookup,
    rule_id: str,
) -> RuleResult:
    return explain(rule_id, facts, now=now, previous=previous, lookup=lookup)


class _CollectorPause:
    """Pause Python's cyclic garbage collector while a run builds its objects.

    A run allocates millions of containers that live until it ends (facts, rows); each full
    collection walks all of them again, which doubled the time of a 50,000-account run.
    Reference counting still frees everything that is not a cycle; the collector resumes
    when the last run in this process ends (runs may overlap in a server's threads).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = True

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._was_enabled:
                    gc.enable()


_cycle_collection_paused = _CollectorPause()


def _counts(total: Any) -> dict[str, int]:
    return {
        "pass": total.passed,
        "fail": total.failed,
        "manual": total.manual,
        "error": total.error,
        "not_applicable": total.not_applicable,
    }


def _mailboxes(
    session: Session, facts: Collection[AccountFacts]
) -> Mapping[uuid.UUID, AccountFacts]:
    """Facts by account id: the evaluated accounts, plus every recovery mailbox they link to.

    A mailbox inventoried on a mission outside the run's scope (typically the headquarters'
    tenant for an embassy's accounts) is read too, so rule 17 says the same whoever evaluates.
    """
    by_id = {f.account_id: f for f in facts}
    wanted = {
        f.recovery_email_account_id
        for f in facts
        if f.recovery_email_account_id is not None and f.recovery_email_account_id not in by_id
    }
    if wanted:
        linked = load_facts(
            session, system_principal("policy"), mission_ids=None, account_ids=wanted
        )
        by_id.update((f.account_id, f) for f in linked)
    return by_id


def _failed_run(
    session: Session, principal: Principal, loaded: loader.LoadedPolicy, exc: Exception
) -> PolicyRun:
    error = str(exc) if isinstance(exc, SecopsError) else f"{type(exc).__name__} (see the log)"
    run = _new_run(session, principal, loaded, None, RunTrigger.SCHEDULED, RunStatus.FAILED)
    run.error = error[:1000]
    run.finished_at = clock_of(session).now()
    session.add(run)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="policy.evaluate",
        object_type="policy_run",
        object_id=run.id,
        outcome=Outcome.FAILURE,
        details={**run.summary(), "error": run.error},
    )
    return run
