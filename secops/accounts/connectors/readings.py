"""What a connector read, vendor-neutral: each fact is a value with its evidence time, or an error.

Graph and Google payloads are parsed into ``AccountReading``s; ``sync`` writes them through the
inventory service. A fact that could not be read (the API refused, the user was missing from a
report, a required field was absent or malformed) is a ``Reading`` with ``error`` set and no
value, so it can only ever be stored as ``fact_status=error``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# Google reports "never" as the epoch; Graph as year 1.
_NEVER_BEFORE = datetime(1971, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Reading(Generic[T]):
    """One fact as read: ``value`` with the time the vendor vouches for, or ``error``."""

    value: T | None = None
    observed_at: datetime | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the fact was obtained."""
        return self.error is None


def read(value: T, observed_at: datetime) -> Reading[T]:
    """A fact obtained, with its evidence time."""
    return Reading(value=value, observed_at=observed_at)


def failed(reason: str) -> Reading[Any]:
    """A fact that could not be obtained, and why (no value: never a pass)."""
    return Reading(error=reason[:500])


@dataclass(frozen=True)
class MfaReading:
    """Whether a second factor is registered, and whether the organisation enforces it."""

    enabled: bool
    enforced: bool | None = None


@dataclass(frozen=True)
class RecoveryReading:
    """The recovery address and phone the platform holds (None: not set)."""

    email: str | None
    phone: str | None


@dataclass(frozen=True)
class AdminReading:
    """An administrator of the tenant, as the platform names it."""

    external_id: str
    identity: str
    role: str
    last_sign_in_at: datetime | None = None


@dataclass(frozen=True)
class AppReading:
    """A third-party app holding a grant."""

    external_id: str
    name: str
    scopes: tuple[str, ...]
    publisher: str | None = None
    granted_by: str | None = None


@dataclass
class AccountReading:
    """One account as a connector saw it; a fact group left None is not reported by the vendor."""

    external_id: str
    handle: str
    display_name: str | None = None
    enabled: bool | None = None
    is_tenant: bool = False
    last_sign_in: Reading[datetime | None] | None = None
    mfa: Reading[MfaReading] | None = None
    methods: Reading[tuple[str, ...]] | None = None
    recovery: Reading[RecoveryReading] | None = None
    admins: Reading[tuple[AdminReading, ...]] | None = None
    apps: Reading[tuple[AppReading, ...]] | None = None

    def errors(self) -> int:
        """How many of this account's fact groups could not be read."""
        groups = (self.last_sign_in, self.mfa, self.methods, self.recovery, self.admins, self.apps)
        return sum(1 for g in groups if g is not None and not g.ok)


@dataclass
class TenantReading:
    """Everything one sync read: the accounts, and each endpoint that failed with its reason."""

    accounts: list[AccountReading] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    # Guests and other identities that are not the ministry's accounts.
    skipped: int = 0
    # Rows that could not be attributed to any account (no id, not an object).
    unreadable: int = 0


class VendorModel(BaseModel):
    """Base of vendor payload models: unknown vendor fields ignored, known ones type-checked."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


@dataclass(frozen=True)
class Parsed(Generic[M]):
    """A payload row, and the fields that were present but malformed (dropped before parsing)."""

    row: M
    malformed: frozenset[str]

    def problem(self, alias: str, value: object, where: str) -> str | None:
        """Why the field ``alias`` cannot be used, or None when it holds a value."""
        if alias in self.malformed:
            return f"{alias} malformed in {where}"
        if value is None:
            return f"{alias} missing from {where}"
        return None


def parse_row(model: type[M], raw: Any) -> Parsed[M] | None:
    """Validate one row; a malformed optional field is dropped and named, not fatal.

    Returns None when the row is not an object or its identifying fields are absent or invalid:
    such a row cannot be attributed to any account.
    """
    if not isinstance(raw, dict):
        return None
    try:
        return Parsed(model.model_validate(raw), frozenset())
    except ValidationError as exc:
        bad = frozenset(str(e["loc"][0]) for e in exc.errors() if e["loc"])
    try:
        return Parsed(model.model_validate({k: v for k, v in raw.items() if k not in bad}), bad)
    except ValidationError:
        return None


def evidence_time(value: datetime | None) -> datetime | None:
    """A vendor timestamp in UTC; the vendors' "never" sentinels (year 1, the epoch) are None."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return None if value < _NEVER_BEFORE else value
