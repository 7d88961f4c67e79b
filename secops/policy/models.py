"""Tables of the policy engine: evaluation runs, per-account results, findings and score history.

One run writes, in one transaction:

- a ``policy_run`` row: which policy file (id, version, SHA-256) was evaluated over which scope,
  by whom, when, with the rules' titles and remediation as they were in that file;
- one ``policy_account_result`` row per account: every rule's status, the facts as they were
  (``snapshot``, kept once while they stay the same), when each open result was first seen, and
  the account's counts and weights;
- one ``policy_finding`` row per open result (fail, manual, error) and per result that was open
  in the account's previous evaluation and no longer is (``resolved``); its severity,
  criticality, run number and policy are those its run stored for the rule and the run, its
  reason one of the run's ``policy_reason`` sentences;
- ``policy_score`` rows: one per mission (its own accounts, not its children's) and one with no
  mission for the whole run.

Passing and not-applicable results are not stored as rows: they are in ``statuses`` and their
evidence in ``snapshot``. The two bulk tables carry no foreign keys: a run writes them once,
by COPY on PostgreSQL, and a per-row foreign-key trigger would cost as much as the copy itself.
They hold only what a run cannot say once for all its rows: a run writes half a million
findings, and every byte of a row is written (and synced) half a million times.
Waivers are never written here; they are applied when results are read.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Text, Uuid
from sqlmodel import Field, SQLModel

from secops.core.db import UTCDateTime, new_id


class RunTrigger(StrEnum):
    """Who started a run: a person or API key (``manual``) or the worker (``scheduled``)."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"


class RunStatus(StrEnum):
    """Where a run is: ``failed`` runs keep their error and have no results."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class PolicyRun(SQLModel, table=True):
    """One evaluation of one policy file over a scope of accounts."""

    __tablename__ = "policy_run"
    __table_args__ = (Index("ix_policy_run_policy_seq", "policy_id", "seq"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Increases by one per run, across policies: "run 12" in the CLI.
    seq: int = Field(sa_column=Column(Integer, nullable=False, unique=True))
    policy_id: str = Field(sa_column=Column(String(63), nullable=False))
    policy_version: str = Field(sa_column=Column(String(40), nullable=False))
    policy_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    policy_title: str = Field(sa_column=Column(String(200), nullable=False))
    # The root of the scope evaluated; None: every mission the caller could evaluate.
    mission_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("mission.id"), nullable=True, index=True)
    )
    trigger: RunTrigger = Field(sa_column=Column(String(10), nullable=False))
    # The user (or API key owner) who asked; None for the worker.
    triggered_by: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    status: RunStatus = Field(sa_column=Column(String(10), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    account_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # Each rule as the file stated it: {rule_id: {title, severity, criticality, remediation,
    # fields}}, so old runs stay readable after the policy file changes.
    rules: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The rules in file order: the order of each account's ``statuses`` letters in this run.
    rule_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))

    def summary(self) -> dict[str, Any]:
        """The fields the audit event records about a run."""
        return {
            "run_seq": self.seq,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "policy_sha256": self.policy_sha256,
            "mission_id": str(self.mission_id) if self.mission_id else None,
            "trigger": str(self.trigger),
            "status": str(self.status),
            "accounts": self.account_count,
        }


class PolicyAccountResult(SQLModel, table=True):
    """Every rule's status on one account in one run, with the facts they were decided on."""

    __tablename__ = "policy_account_result"
    __table_args__ = (
        # The previous state of an account: its newest row under the same policy.
        Index("ix_policy_account_result_latest", "policy_id", "account_id", "run_seq"),
    )

    run_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    account_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    policy_id: str = Field(sa_column=Column(String(63), nullable=False))
    run_seq: int = Field(sa_column=Column(Integer, nullable=False))
    # The account's mission at the time of the run.
    mission_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    # Every rule's status, not_applicable included: one letter per rule (p f m e n) in the
    # order of the run's rule_ids (secops.policy.evaluation.decode_statuses reads it).
    statuses: str = Field(sa_column=Column(Text, nullable=False))
    # When each open result was first seen open: {ISO time: [positions in rule_ids]}.
    first_seen: dict[str, list[int]] = Field(sa_column=Column(JSON, nullable=False))
    # The facts as evaluated (secops.policy.evaluator.snapshot): values and their provenance.
    # Stored once while they stay the same: None here, and snapshot_run_id names the run whose
    # row for this account holds them (this run's own when they changed).
    snapshot: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    snapshot_run_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    pass_count: int = Field(sa_column=Column(Integer, nullable=False))
    fail_count: int = Field(sa_column=Column(Integer, nullable=False))
    manual_count: int = Field(sa_column=Column(Integer, nullable=False))
    error_count: int = Field(sa_column=Column(Integer, nullable=False))
    na_count: int = Field(sa_column=Column(Integer, nullable=False))
    weight_pass: int = Field(sa_column=Column(Integer, nullable=False))
    weight_total: int = Field(sa_column=Column(Integer, nullable=False))


class PolicyFinding(SQLModel, table=True):
    """A result that needs attention (open) or just stopped needing it (resolved)."""

    __tablename__ = "policy_finding"
    # The primary key is the only index, and every read is a range of it: a run, a mission's
    # findings in the run (reads are scoped by mission), one account's. On SQLite the table is
    # stored in that key (WITHOUT ROWID): one b-tree written per finding instead of three.
    __table_args__ = ({"sqlite_with_rowid": False},)

    run_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    # The account's mission at the time of the run.
    mission_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    account_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    rule_id: str = Field(sa_column=Column(String(60), primary_key=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    # The sentence saying why, kept once per run in policy_reason: thousands of findings in a
    # run give the same few hundred sentences.
    reason_id: int = Field(sa_column=Column(Integer, nullable=False))
    # The deciding facts, comma-separated field names; their values and provenance are read
    # from the account's snapshot when the finding is shown.
    fields: str = Field(sa_column=Column(String(1000), nullable=False))
    # Extra evidence a check module added (e.g. the recovery mailbox's own MFA tier).
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    change: str = Field(sa_column=Column(String(10), nullable=False))
    previous_status: str | None = Field(default=None, sa_column=Column(String(16)))
    first_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class PolicyReason(SQLModel, table=True):
    """One sentence of a run's findings (``policy_finding.reason_id``), stored once."""

    __tablename__ = "policy_reason"

    run_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    text: str = Field(sa_column=Column(String(1000), nullable=False))


class PolicyScore(SQLModel, table=True):
    """Counts and weights of one mission's accounts in a run (no mission: the whole run)."""

    __tablename__ = "policy_score"
    __table_args__ = (
        Index("ix_policy_score_history", "policy_id", "mission_id", "run_seq"),
        Index("ix_policy_score_run", "run_id", "mission_id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    run_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("policy_run.id", ondelete="CASCADE"), nullable=False)
    )
    run_seq: int = Field(sa_column=Column(Integer, nullable=False))
    policy_id: str = Field(sa_column=Column(String(63), nullable=False))
    mission_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    account_count: int = Field(sa_column=Column(Integer, nullable=False))
    pass_count: int = Field(sa_column=Column(Integer, nullable=False))
    fail_count: int = Field(sa_column=Column(Integer, nullable=False))
    manual_count: int = Field(sa_column=Column(Integer, nullable=False))
    error_count: int = Field(sa_column=Column(Integer, nullable=False))
    na_count: int = Field(sa_column=Column(Integer, nullable=False))
    weight_pass: int = Field(sa_column=Column(Integer, nullable=False))
    weight_total: int = Field(sa_column=Column(Integer, nullable=False))
    # 100 * weight_pass / weight_total, one decimal; None when no weighted rule applied.
    score: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
