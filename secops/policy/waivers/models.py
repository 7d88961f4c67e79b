"""Tables of waivers: a time-boxed, four-eyes exception to one rule for a mission or some accounts.

A waiver never touches evaluation results. Findings are stored as evaluated; readers ask
:func:`secops.policy.waivers.service.active_index` which open results a waiver covers *now*, so
revoking a waiver, or reaching its expiry, brings the failure back on the next read.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from secops.core.db import UTCDateTime, new_id


class WaiverStatus(StrEnum):
    """Where a waiver is in its lifecycle; expiry is not a status but a time (see ``WaiverState``).

    ``superseded``: an approved extension replaced it (``supersedes_id`` on the new waiver).
    """

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


class WaiverState(StrEnum):
    """What a waiver means at a given moment: its status, with expiry applied."""

    REQUESTED = "requested"  # awaiting a decision, expiry still ahead
    ACTIVE = "active"  # approved and not yet expired: covers results
    EXPIRED = "expired"  # approved (or requested) but its expiry has passed
    REJECTED = "rejected"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class PolicyWaiver(SQLModel, table=True):
    """An exception to ``rule_id`` of ``policy_id`` on a mission, or on listed accounts of it."""

    __tablename__ = "policy_waiver"
    __table_args__ = (
        # The read-time index: approved waivers of one policy that have not expired.
        Index("ix_policy_waiver_policy_status_expires", "policy_id", "status", "expires_at"),
        # The expiry warning job: approved, not yet warned, expiring soon.
        Index("ix_policy_waiver_status_warned_expires", "status", "warned_at", "expires_at"),
        # Keyset pages, newest request first.
        Index("ix_policy_waiver_requested_id", "requested_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    policy_id: str = Field(sa_column=Column(String(63), nullable=False))
    rule_id: str = Field(sa_column=Column(String(60), nullable=False, index=True))
    # The scope and the owner of the waiver; listed accounts belong to it or to missions below it.
    mission_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("mission.id"), nullable=False, index=True)
    )
    # A mission-wide waiver also covers the missions below this one.
    include_children: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    requested_by: uuid.UUID = Field(nullable=False)
    requested_by_name: str = Field(sa_column=Column(String(200), nullable=False))
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: WaiverStatus = Field(
        default=WaiverStatus.REQUESTED, sa_column=Column(String(12), nullable=False)
    )
    approved_by: uuid.UUID | None = Field(default=None, nullable=True)
    approved_by_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    approved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Who rejected, revoked or superseded it, and when.
    closed_by: uuid.UUID | None = Field(default=None, nullable=True)
    closed_by_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    decision_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # When the requester and approver were told that the expiry is near; set once.
    warned_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # An extension is a new request that replaces this waiver once approved.
    supersedes_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("policy_waiver.id"), nullable=True, index=True)
    )
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))

    def state_at(self, now: datetime) -> WaiverState:
        """The waiver's meaning at ``now``: an approved waiver past its expiry is ``expired``."""
        # The column reads back as a plain string; compare through the enum.
        status = WaiverStatus(self.status)
        if status in (WaiverStatus.REQUESTED, WaiverStatus.APPROVED):
            if now >= self.expires_at:
                return WaiverState.EXPIRED
            if status is WaiverStatus.APPROVED:
                return WaiverState.ACTIVE
            return WaiverState.REQUESTED
        return WaiverState(status.value)

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, in JSON form, for before/after diffs."""
        return {
            "policy_id": self.policy_id,
            "rule_id": self.rule_id,
            "mission_id": str(self.mission_id),
            "include_children": self.include_children,
            "reason": self.reason,
            "requested_by": str(self.requested_by),
            "status": str(self.status),
            "approved_by": str(self.approved_by) if self.approved_by else None,
            "approved_at": _iso(self.approved_at),
            "closed_by": str(self.closed_by) if self.closed_by else None,
            "closed_at": _iso(self.closed_at),
            "decision_note": self.decision_note,
            "expires_at": _iso(self.expires_at),
            "warned_at": _iso(self.warned_at),
            "supersedes_id": str(self.supersedes_id) if self.supersedes_id else None,
        }


class PolicyWaiverAccount(SQLModel, table=True):
    """One account a waiver is limited to; a waiver without any covers its whole mission."""

    __tablename__ = "policy_waiver_account"

    waiver_id: uuid.UUID = Field(
        sa_column=Column(
            ForeignKey("policy_waiver.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    account_id: uuid.UUID = Field(
        sa_column=Column(
            ForeignKey("account.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
            index=True,
        )
    )
