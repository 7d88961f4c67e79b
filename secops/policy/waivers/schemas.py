"""API shapes of waivers: request, extend, decide, read, list filters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from secops.accounts.models import Platform
from secops.core.pagination import Page
from secops.policy.spec import POLICY_ID, RULE_ID
from secops.policy.waivers.models import WaiverState, WaiverStatus

MAX_ACCOUNTS = 500
# Printable text; line breaks and tabs are allowed in a justification.
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$"
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=10, max_length=2000, pattern=_TEXT)
]
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=_TEXT)
]
PolicyId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=POLICY_ID.pattern)]
RuleId = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=60, pattern=RULE_ID.pattern)
]
CursorText = Annotated[str, StringConstraints(max_length=1024)]


class WaiverCreate(BaseModel):
    """A request for an exception to one rule, on a mission or on some of its accounts.

    ``expires_at`` is required, in the future, and at most the policy's ``waiver_max_days``
    ahead. Without ``account_ids`` the waiver covers the whole mission (and the missions below
    it when ``include_children``); with them, only those accounts, which must belong to the
    mission or a mission below it. ``policy_id`` may be left out when one policy is loaded.
    """

    model_config = ConfigDict(extra="forbid")

    policy_id: PolicyId | None = None
    rule_id: RuleId
    mission_id: uuid.UUID
    include_children: bool = False
    account_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_ACCOUNTS)
    reason: Reason
    expires_at: AwareDatetime


class WaiverExtend(BaseModel):
    """An extension: a new request that replaces the waiver once someone else approves it.

    ``expires_at`` is required; it is checked by the service after the waiver is found, so a
    waiver you may not see answers 404 whatever the body holds. ``reason`` defaults to the
    waiver's own.
    """

    model_config = ConfigDict(extra="forbid")

    expires_at: AwareDatetime | None = None
    reason: Reason | None = None


class WaiverDecision(BaseModel):
    """Approve, reject or revoke, with an optional note kept on the waiver and in the audit."""

    model_config = ConfigDict(extra="forbid")

    note: Note | None = None


class WaiverAccountRead(BaseModel):
    """An account a waiver is limited to; platform and handle only when you may read it."""

    id: uuid.UUID
    platform: Platform | None = None
    handle: str | None = None


class WaiverRead(BaseModel):
    """A waiver with its state now: ``active`` is the only state that covers results."""

    id: uuid.UUID
    policy_id: str
    rule_id: str
    mission_id: uuid.UUID
    mission_code: str
    include_children: bool
    accounts: list[WaiverAccountRead]
    reason: str
    status: WaiverStatus
    state: WaiverState
    requested_by: uuid.UUID
    requested_by_name: str
    requested_at: datetime
    approved_by: uuid.UUID | None
    approved_by_name: str | None
    approved_at: datetime | None
    closed_by: uuid.UUID | None
    closed_by_name: str | None
    closed_at: datetime | None
    decision_note: str | None
    expires_at: datetime
    # Whole days until expiry (0 on the last day); negative once expired.
    days_left: int
    warned_at: datetime | None
    supersedes_id: uuid.UUID | None
    version: int


WaiverPage = Page[WaiverRead]


class WaiverFilters(BaseModel):
    """Filters of ``GET /policy/waivers``; every value is validated like a payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: WaiverState | None = None
    policy_id: PolicyId | None = None
    rule_id: RuleId | None = None
    # Exactly this mission (not the ones below it).
    mission_id: uuid.UUID | None = None
    # Waivers that list this account.
    account_id: uuid.UUID | None = None
    # Active waivers whose expiry falls within this many days.
    expiring_within_days: int | None = Field(default=None, ge=0, le=730)


class WaiverListQuery(WaiverFilters):
    """The query string of ``GET /policy/waivers``: filters and paging (newest request first)."""

    cursor: CursorText | None = None
    limit: int | None = None

    def filters(self) -> WaiverFilters:
        """The filters alone."""
        return WaiverFilters.model_validate(
            self.model_dump(include=set(WaiverFilters.model_fields))
        )
