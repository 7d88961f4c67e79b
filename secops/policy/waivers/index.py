"""Which results a waiver covers at a given moment, built once per read and applied in memory.

Results are never rewritten: a reader of findings builds the index for the time of the read and
asks it, per open result, whether an active waiver covers it. Revoking a waiver, or passing its
expiry, changes the answer on the very next read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from secops.missions import service as missions_service
from secops.policy.waivers import repository
from secops.policy.waivers.models import PolicyWaiver


@dataclass(frozen=True, slots=True)
class ActiveWaiver:
    """The waiver that covers a result: shown beside the finding."""

    id: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class _AccountCover:
    waiver: ActiveWaiver
    # The waiver's mission and every mission below it: an account that moved out is not covered.
    missions: frozenset[uuid.UUID]


def _later(a: ActiveWaiver | None, b: ActiveWaiver) -> ActiveWaiver:
    # When two waivers cover the same result, show the one that lasts longest (then by id, so
    # the answer does not depend on the order rows came back in).
    if a is None or (b.expires_at, b.id) > (a.expires_at, a.id):
        return b
    return a


@dataclass(frozen=True)
class WaiverIndex:
    """Active waivers of one policy at one moment, keyed for look-ups per (rule, account)."""

    policy_id: str
    at: datetime
    by_mission: Mapping[tuple[str, uuid.UUID], ActiveWaiver] = field(default_factory=dict)
    by_account: Mapping[tuple[str, uuid.UUID], Sequence[_AccountCover]] = field(
        default_factory=dict
    )
    waiver_ids: frozenset[uuid.UUID] = frozenset()

    def waiver_for(
        self, rule_id: str, account_id: uuid.UUID, mission_id: uuid.UUID
    ) -> ActiveWaiver | None:
        """The active waiver covering ``rule_id`` on this account of ``mission_id``, if any.

        A mission waiver covers every account of its mission (and of the missions below when it
        includes children); an account waiver covers only the accounts it lists, while they
        remain on its mission or below it.
        """
        best = self.by_mission.get((rule_id, mission_id))
        for cover in self.by_account.get((rule_id, account_id), ()):
            if mission_id in cover.missions:
                best = _later(best, cover.waiver)
        return best

    def __len__(self) -> int:
        return len(self.waiver_ids)


def build_index(session: Session, *, policy_id: str, now: datetime) -> WaiverIndex:
    """The index of ``policy_id``'s waivers that are approved and unexpired at ``now``."""
    waivers = repository.active_for_policy(session, policy_id, now)
    accounts = repository.accounts_of(session, [w.id for w in waivers])
    subtrees = _subtrees(session, waivers, accounts)
    by_mission: dict[tuple[str, uuid.UUID], ActiveWaiver] = {}
    by_account: dict[tuple[str, uuid.UUID], list[_AccountCover]] = {}
    for waiver in waivers:
        active = ActiveWaiver(id=waiver.id, expires_at=waiver.expires_at)
        listed = accounts[waiver.id]
        if listed:
            cover = _AccountCover(active, subtrees[waiver.mission_id])
            for account_id in listed:
                by_account.setdefault((waiver.rule_id, account_id), []).append(cover)
            continue
        missions: Iterable[uuid.UUID] = (
            subtrees[waiver.mission_id] if waiver.include_children else (waiver.mission_id,)
        )
        for mission_id in missions:
            key = (waiver.rule_id, mission_id)
            by_mission[key] = _later(by_mission.get(key), active)
    return WaiverIndex(
        policy_id=policy_id,
        at=now,
        by_mission=by_mission,
        by_account=by_account,
        waiver_ids=frozenset(w.id for w in waivers),
    )


def _subtrees(
    session: Session,
    waivers: Sequence[PolicyWaiver],
    accounts: Mapping[uuid.UUID, Sequence[uuid.UUID]],
) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    # One walk of the mission tree per mission that needs it, not per waiver.
    needed = {w.mission_id for w in waivers if w.include_children or accounts[w.id]}
    return {m: missions_service.descendants(session, m) for m in needed}
