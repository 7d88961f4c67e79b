"""Per-account back-off after failed sign-ins, kept in the database so every process shares it.

After ``FREE_FAILURES`` consecutive failures each further failure doubles the wait (1 s, 2 s,
4 s, …) up to ``MAX_DELAY_SECONDS``. While the wait runs every attempt is refused with 429 and
``Retry-After``, even with the right password. There is deliberately no permanent lock: anyone
could lock any account by failing on purpose. The capped delay keeps guessing to at most 96
attempts a day per account (NIST SP 800-63B §5.2.2 asks for no more than 100 consecutive
failures before other measures; with TOTP also required, that is far beyond useful). A success
resets the count. A wrong TOTP or recovery code counts like a wrong password.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from secops.auth.models import SignInThrottle

FREE_FAILURES: Final = 5
MAX_DELAY_SECONDS: Final = 900


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
