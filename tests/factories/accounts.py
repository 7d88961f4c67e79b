"""Builders for the inventory: people and accounts written directly (no audit), like missions."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlmodel import Session

from secops.accounts.models import (
    Account,
    AccountKind,
    AccountStatus,
    AccountTier,
    Person,
    PersonStatus,
    Platform,
    normalise_handle,
)
from secops.core.db import clock_of
from secops.missions.models import Mission

_seq = itertools.count(1)


def make_person(
    session: Session,
    mission: Mission,
    *,
    full_name: str | None = None,
    email: str | None = None,
    position: str | None = None,
    status: PersonStatus = PersonStatus.ACTIVE,
    left_at: datetime | None = None,
) -> Person:
    """A person on ``mission``; a unique e-mail address unless one is given."""
    n = next(_seq)
    now = clock_of(session).now()
    person = Person(
        full_name=full_name or f"Person {n}",
        email=(email or f"person{n}@ministry.example").lower(),
        mission_id=mission.id,
        position=position,
        status=status,
        left_at=left_at or (now if status == PersonStatus.LEFT else None),
        created_at=now,
        updated_at=now,
    )
    session.add(person)
    session.flush()
    return person


def make_account(
    session: Session,
    mission: Mission,
    *,
    platform: Platform = Platform.X,
    handle: str | None = None,
    tier: AccountTier = AccountTier.MISSION,
    kind: AccountKind = AccountKind.INSTITUTIONAL,
    owner: Person | None = None,
    status: AccountStatus = AccountStatus.ACTIVE,
    display_name: str | None = None,
    external_id: str | None = None,
) -> Account:
    """An account on ``mission``; a unique handle unless one is given."""
    n = next(_seq)
    now = clock_of(session).now()
    account = Account(
        platform=platform,
        handle=normalise_handle(platform, handle or f"account_{n}"),
        display_name=display_name,
        mission_id=mission.id,
        tier=tier,
        kind=kind,
        owner_id=owner.id if owner else None,
        status=status,
        external_id=external_id,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    session.flush()
    return account
