"""A shared password was changed after every holder who left had gone (rule 13)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from secops.policy.checks.base import (
    FAIL,
    MANUAL,
    PASS,
    CheckContext,
    CheckMetadata,
    note,
    unusable,
)
from secops.policy.conditions import Decision, wording
from secops.policy.facts import AccountFacts
from secops.policy.fields import Group

METADATA = CheckMetadata(
    id="credential_rotated_after_holder_left",
    summary="The shared password was rotated after the last holder who left the ministry went.",
    fields=("credential.last_rotated_at", "credential.holders"),
)
FIELDS = METADATA.fields


def credential_rotated_after_holder_left(facts: AccountFacts, ctx: CheckContext) -> Decision:
    """Fail while any holder left after the password was last rotated."""
    unknown = unusable(facts, Group.CREDENTIAL, FIELDS)
    if unknown is not None:
        return unknown
    when = note(facts, Group.CREDENTIAL, ctx.now)
    holders: list[dict[str, Any]] = facts.values.get("credential.holders") or []
    leavers = [h for h in holders if h.get("person_status") == "left" or h.get("left_at")]
    if not leavers:
        count = f"{len(holders)} {wording.noun('credential.holders', len(holders))}"
        return Decision(PASS, f"No password holder has left ({count}){when}", FIELDS)
    undated = [h for h in leavers if h.get("left_at") is None]
    if undated:
        name = _name(undated[0])
        return Decision(MANUAL, f"Password holder {name} left on a date not recorded", FIELDS)
    rotated: datetime | None = facts.values.get("credential.last_rotated_at")
    last = max(leavers, key=lambda h: h["left_at"])
    if rotated is None:
        left = wording.days_ago((ctx.now - last["left_at"]).days)
        text = f"Password holder {_name(last)} left {left}; the last rotation was not recorded"
        return Decision(MANUAL, text + when, FIELDS)
    rotated_ago = wording.days_ago((ctx.now - rotated).days)
    stale = sorted((h for h in leavers if h["left_at"] > rotated), key=lambda h: h["left_at"])
    if not stale:
        left = wording.days_ago((ctx.now - last["left_at"]).days)
        text = f"Password last rotated {rotated_ago}, after {_name(last)} left {left}"
        return Decision(PASS, text + when, FIELDS)
    first = stale[0]
    left = wording.days_ago((ctx.now - first["left_at"]).days)
    text = f"Password last rotated {rotated_ago}, before {_name(first)} left {left}"
    if len(stale) > 1:
        text += f"; and {len(stale) - 1} more {wording.noun('credential.holders', len(stale) - 1)}"
    return Decision(FAIL, text + when, FIELDS, {"left_since_rotation": len(stale)})


def _name(holder: dict[str, Any]) -> str:
    return str(holder.get("label") or "(unnamed)")
