"""A per-user limit on inventory exports, counted in the database so replicas share it.

An export carries the whole inventory (recovery details in clear where the caller may read
them) out of the server and reads every account, so a user gets ``export_per_hour``
exports at once and then one more every ``EXPORT_WINDOW / export_per_hour`` (a generic cell
rate algorithm: ten an hour means ten in a row, then one every six minutes). A refused export
is a 429 problem with ``Retry-After``. Exports that fail are not counted: the allowance is
spent in the export's own transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from secops.accounts.io.models import ExportAllowance
from secops.core.config import Settings
from secops.core.db import clock_of, info_of
from secops.core.errors import TooManyRequests
from secops.core.logging import get_logger
from secops.core.principal import Principal

log = get_logger("secops.accounts.io")

# The window of the allowance; how many exports fit in it is SECOPS_EXPORT_PER_HOUR.
EXPORT_WINDOW: Final = timedelta(hours=1)


@dataclass(frozen=True)
class Allowance:
    """At most ``limit`` exports in any ``window``; spent ones come back one by one."""

    limit: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= timedelta(0):
            raise ValueError("an export allowance needs a limit of 1 or more and a window")

    @property
    def cost(self) -> timedelta:
        """How much of the window one export takes."""
        return self.window / self.limit


def configured(session: Session) -> Allowance:
    """The allowance the settings give every user: ``export_per_hour`` exports an hour."""
    settings: Settings = info_of(session, "settings")
    return Allowance(settings.export_per_hour, EXPORT_WINDOW)


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _refuse(principal: Principal, allowance: Allowance, excess: timedelta) -> TooManyRequests:
    wait = math.ceil(excess.total_seconds())
    log.warning("accounts.export_throttled", user_id=str(principal.id), retry_after=wait)
    return TooManyRequests(
        f"You have used your {allowance.limit} exports for now; try again later.",
        retry_after=wait,
    )


def _spent_after(spent_until: datetime | None, now: datetime, allowance: Allowance) -> datetime:
    """Where the allowance would be spent until after one more export."""
    return max(spent_until or now, now) + allowance.cost


def _excess(after: datetime, now: datetime, allowance: Allowance) -> timedelta:
    """How far ``after`` runs past the window (nothing or less: the export fits)."""
    return after - (now + allowance.window)


def check(session: Session, *, principal: Principal, allowance: Allowance | None = None) -> None:
    """Refuse at once (TooManyRequests) when the caller has no export left; spends nothing.

    A read without a lock, so that an export builds its file without holding SQLite's write
    lock; ``spend`` checks again under the lock before the export commits.
    """
    allowance = allowance or configured(session)
    table = ExportAllowance.__table__  # type: ignore[attr-defined]
    spent_until = session.execute(
        select(table.c.spent_until).where(table.c.user_id == principal.id)
    ).scalar_one_or_none()
    now = clock_of(session).now()
    excess = _excess(_spent_after(spent_until, now, allowance), now, allowance)
    if excess > timedelta(0):
        raise _refuse(principal, allowance, excess)


def spend(session: Session, *, principal: Principal, allowance: Allowance | None = None) -> None:
    """Count one export against the caller's allowance (the configured one unless given);
    TooManyRequests when it is spent."""
    allowance = allowance or configured(session)
    now = clock_of(session).now()
    table = ExportAllowance.__table__  # type: ignore[attr-defined]
    session.execute(
        _insert(session)(table)
        .values(user_id=principal.id, spent_until=now)
        .on_conflict_do_nothing(index_elements=[table.c.user_id])
    )
    # The row is locked until the export commits (PostgreSQL; SQLite serialises writers), so
    # two replicas cannot both spend the last export.
    spent_until = session.execute(
        select(table.c.spent_until).where(table.c.user_id == principal.id).with_for_update()
    ).scalar_one()
    after = _spent_after(spent_until, now, allowance)
    excess = _excess(after, now, allowance)
    if excess > timedelta(0):
        raise _refuse(principal, allowance, excess)
    session.execute(table.update().where(table.c.user_id == principal.id).values(spent_until=after))
