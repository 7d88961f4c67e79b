"""MFA was on at the previous run and is off now: its own critical finding (the @SECGov case)."""

from __future__ import annotations

from secops.policy.checks.base import (
    FAIL,
    MANUAL,
    PASS,
    CheckContext,
    CheckMetadata,
    note,
    unusable,
)
from secops.policy.conditions import Decision
from secops.policy.facts import AccountFacts
from secops.policy.fields import Group

METADATA = CheckMetadata(
    id="mfa_not_turned_off",
    summary="MFA that was on at the previous evaluation has not been turned off since.",
    fields=("mfa.enabled",),
)
FIELDS = METADATA.fields


def mfa_not_turned_off(facts: AccountFacts, ctx: CheckContext) -> Decision:
    """Fail when MFA was on at the previous run and is off now, and until it is back on."""
    unknown = unusable(facts, Group.MFA, FIELDS)
    if unknown is not None:
        return unknown
    enabled = facts.values.get("mfa.enabled")
    when = note(facts, Group.MFA, ctx.now)
    if enabled is None:
        return Decision(MANUAL, "Whether MFA is on was not recorded", FIELDS)
    if enabled:
        return Decision(PASS, f"MFA is enabled{when}", FIELDS)
    previous = ctx.previous
    if previous is None:
        return Decision(
            PASS, f"MFA is off{when}; there is no earlier evaluation to compare with", FIELDS
        )
    if previous.value("mfa.enabled") is True:
        return Decision(
            FAIL,
            f"MFA was turned off: it was on at the previous evaluation and is off now{when}",
            FIELDS,
            {"previous_mfa_enabled": True, "previous_mfa": previous.provenance(Group.MFA)},
        )
    if previous.statuses.get(ctx.rule_id) == FAIL:
        since = previous.open_since.get(ctx.rule_id)
        return Decision(
            FAIL,
            f"MFA was turned off and is still off{when}",
            FIELDS,
            {"open_since": since.isoformat() if since else None},
        )
    return Decision(PASS, f"MFA was already off at the previous evaluation{when}", FIELDS)
