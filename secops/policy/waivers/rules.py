"""The rules a waiver request must meet, and the problems that say which one it broke.

Every bad input is a 422 whose ``errors`` name the place (``["body", "expires_at"]``) and whose
``detail`` repeats the first of them, so a refused request is understood without reading the
docs. The checks run before anything is written: a refused request stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from secops.core.config import Settings
from secops.core.db import info_of
from secops.core.errors import Forbidden, NotFound, ValidationFailed
from secops.policy import loader


class SelfApproval(Forbidden):
    """The approver is the person who asked for the waiver; a second person must decide."""

    type, title = "urn:secops:problem:self-approval", "Self-approval refused"


@dataclass(frozen=True, slots=True)
class PolicyLimits:
    """What a loaded policy says about waivers: its rules and how long a waiver may last."""

    policy_id: str
    rule_ids: frozenset[str]
    max_days: int
    warning_days: int


def settings_of(session: Session) -> Settings:
    """The settings the session was made with."""
    settings: Settings = info_of(session, "settings")
    return settings


def policy_limits(session: Session, policy_id: str | None) -> PolicyLimits:
    """The waiver limits of ``policy_id`` (None: the only loaded policy), read from its file.

    A policy id that names no loaded policy, or a missing one when several are loaded, is a
    422 on ``policy_id``; a broken policy file stays ``PolicyInvalid``, as for evaluation.
    """
    try:
        loaded = loader.load_policy(settings_of(session), policy_id)
    except loader.PolicyInvalid:
        raise
    except (NotFound, ValidationFailed) as exc:
        raise refused([field_error(("body", "policy_id"), exc.detail, "policy")]) from None
    header = loaded.spec.policy
    return PolicyLimits(
        policy_id=header.id,
        rule_ids=frozenset(rule.id for rule in loaded.spec.rules),
        max_days=header.waiver_max_days,
        warning_days=header.waiver_warning_days,
    )


def field_error(loc: Sequence[str | int], msg: str, kind: str) -> dict[str, Any]:
    """One entry of a 422's ``errors``: where, what, and a machine-readable type."""
    return {"loc": list(loc), "msg": msg, "type": kind}


def refused(errors: Sequence[Mapping[str, Any]]) -> ValidationFailed:
    """The 422 for a waiver that breaks the rules; ``detail`` names the first problem's place."""
    first = errors[0]
    place = ".".join(str(part) for part in first["loc"] if part != "body")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return ValidationFailed(f"Waiver refused: {place}: {first['msg']}{more}", errors=errors)


def expiry_errors(
    expires_at: datetime | None,
    *,
    now: datetime,
    limits: PolicyLimits,
    after: datetime | None = None,
) -> list[dict[str, Any]]:
    """Why ``expires_at`` is not acceptable now, if it is not (empty list: it is).

    Required; strictly in the future; at most ``limits.max_days`` from now; and, for an
    extension, later than the expiry it extends (``after``).
    """
    loc = ("body", "expires_at")
    if expires_at is None:
        return [field_error(loc, "a waiver needs an expiry date", "missing")]
    if expires_at <= now:
        return [field_error(loc, "must be in the future", "expiry_past")]
    latest = now + timedelta(days=limits.max_days)
    if expires_at > latest:
        msg = (
            f"must be at most {limits.max_days} days from now (the cap of policy "
            f"{limits.policy_id}); the latest allowed is {latest.isoformat()}"
        )
        return [field_error(loc, msg, "expiry_over_cap")]
    if after is not None and expires_at <= after:
        msg = f"an extension must end after the current expiry ({after.isoformat()})"
        return [field_error(loc, msg, "expiry_not_later")]
    return []


def rule_errors(rule_id: str, limits: PolicyLimits) -> list[dict[str, Any]]:
    """A problem when the policy has no rule ``rule_id``."""
    if rule_id in limits.rule_ids:
        return []
    msg = f"policy {limits.policy_id} has no such rule"
    return [field_error(("body", "rule_id"), msg, "unknown_rule")]
