"""Per-account back-off after failed sign-ins, kept in the database so every process shares it.

After ``FREE_FAILURES`` consecutive failures each further failure doubles the wait (1 s, 2 s,
4 s, …) up to ``MAX_DELAY_SECONDS``. While the wait runs every attempt is refused with 429 and
``Retry-After``, even with the right password. There is deliberately no permanent lock: anyone
could lock any account by failing on purpose. The capped delay keeps guessing to at most 96
attempts a day per account (NIST SP 800-63B §5.2.2 asks for no more than 100 consecutive
failures before other measures; with TOTP also required, that is far beyond useful). A success
resets the count. A wrong TOTP or recovery code counts like a wrong password.

Rows are keyed by the name typed, so guessing at names that do not exist leaves rows behind.
``prune_stale`` (run by the worker) deletes a row once its back-off ended ``STALE_AFTER`` ago.
Such a name has had no failure for a day and its count starts again from zero: after a quiet
day a guesser gets the free attempts and the doubling again (fifteen tries in the first
seventeen minutes) before the cap applies, about 110 tries that day instead of 96.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import CursorResult, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from secops.auth.models import SignInThrottle
from secops.core.db import clock_of

FREE_FAILURES: Final = 5
MAX_DELAY_SECONDS: Final = 900
# How long after its back-off ended (or its last failure, when there was none) a row is kept.
STALE_AFTER: Final = timedelta(days=1)


def key_for(username_key: str) -> str:
    """The throttle key of a (normalised) sign-in name; the name itself is not stored."""
    return hashlib.sha256(b"secops-signin|" + username_key.encode("utf-8")).hexdigest()


def delay_after(failures: int) -> int:
    """Seconds to wait after ``failures`` consecutive failures."""
    if failures <= FREE_FAILURES:
        return 0
    exponent = min(failures - FREE_FAILURES - 1, 20)
    return int(min(2**exponent, MAX_DELAY_SECONDS))


def retry_after(session: Session, *, key: str, now: datetime) -> int | None:
    """Seconds until the next attempt is allowed, or None when attempts are allowed now."""
    # A Core query, not the ORM: the row changes through Core statements below.
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    next_at: datetime | None = session.execute(
        select(table.c.next_attempt_at).where(table.c.key_hash == key)
    ).scalar_one_or_none()
    if next_at is None or next_at <= now:
        return None
    return max(1, math.ceil((next_at - now).total_seconds()))


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def record_failure(session: Session, *, key: str, now: datetime) -> int:
    """Count one more failure (atomically, across processes); returns the new count."""
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    statement = (
        _insert(session)(table)
        .values(key_hash=key, failures=1, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.key_hash],
            set_={"failures": table.c.failures + 1, "last_failure_at": now},
        )
        .returning(table.c.failures)
    )
    failures = int(session.execute(statement).scalar_one())
    delay = delay_after(failures)
    next_at = now + timedelta(seconds=delay) if delay else None
    session.execute(table.update().where(table.c.key_hash == key).values(next_attempt_at=next_at))
    return failures


def reset(session: Session, *, key: str) -> None:
    """Forget the failures of a name after a successful sign-in."""
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    session.execute(table.delete().where(table.c.key_hash == key))


def prune_stale(session: Session) -> int:
    """Delete the rows whose back-off ended ``STALE_AFTER`` ago or more; returns how many.

    A row still backing off, or one that failed within the window, is kept with its count.
    """
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    cutoff = clock_of(session).now() - STALE_AFTER
    ended_long_ago = or_(
        table.c.next_attempt_at <= cutoff,
        and_(table.c.next_attempt_at.is_(None), table.c.last_failure_at <= cutoff),
    )
    result = session.execute(table.delete().where(ended_long_ago))
    deleted: int = cast(CursorResult[Any], result).rowcount
    return deleted
