"""An injectable UTC clock: code asks ``clock.now()``, tests pass a ``FrozenClock``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current UTC time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to; for tests and benchmarks."""

    def __init__(self, at: datetime | None = None) -> None:
        self._now = at or datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")

    def now(self) -> datetime:
        """Return the frozen time."""
        return self._now

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        """Move the clock forward by ``delta`` or by ``timedelta(**kwargs)``."""
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, at: datetime) -> None:
        """Jump to ``at``."""
        self._now = at
