"""What ``GET /accounts`` and ``GET /people`` narrow on, how they sort, and their keyset cursors.

A cursor carries the sort it was made for and the last row's sort key; reusing it with another
sort is a 400. Keys always end with the row id, so the order is total and pages never overlap.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ColumnElement, and_, or_

from secops.accounts.models import AccountKind, AccountStatus, AccountTier, PersonStatus, Platform
from secops.core.errors import BadRequest
from secops.core.pagination import decode_cursor, encode_cursor

DEFAULT_STALE_DAYS = 180
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
SearchText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_PRINTABLE)
]
Reference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320, pattern=_PRINTABLE)
]
CursorText = Annotated[str, StringConstraints(max_length=1024)]
_BAD_CURSOR = "The cursor is not valid; start again from the first page."


class MfaFilter(StrEnum):
    """``?mfa=``: the account's strongest recorded method, or ``missing`` for no MFA evidence."""

    PHISHING_RESISTANT = "phishing_resistant"
    APP_PUSH = "app_push"
    TOTP = "totp"
    PHONE_EMAIL = "phone_email"
    NONE = "none"
    UNKNOWN = "unknown"
    MISSING = "missing"


class AccountSort(StrEnum):
    """The orders ``GET /accounts`` offers; a leading ``-`` reverses one."""

    HANDLE = "handle"
    HANDLE_DESC = "-handle"
    PLATFORM = "platform"
    PLATFORM_DESC = "-platform"
    MISSION = "mission"
    MISSION_DESC = "-mission"
    UPDATED_AT = "updated_at"
    UPDATED_AT_DESC = "-updated_at"

    @property
    def descending(self) -> bool:
        """True for the ``-`` forms."""
        return self.value.startswith("-")

    @property
    def field(self) -> str:
        """The sort's name without the sign."""
        return self.value.removeprefix("-")


class AccountFilters(BaseModel):
    """Filters for ``GET /accounts``; every value is validated like a payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A mission id or code: exactly that mission (not the ones under it).
    mission: Reference | None = None
    platform: Platform | None = None
    tier: AccountTier | None = None
    kind: AccountKind | None = None
    # A person id or e-mail address.
    owner: Reference | None = None
    mfa: MfaFilter | None = None
    status: AccountStatus | None = None
    # Only accounts whose oldest evidence is older than ``stale_days``, or that have none.
    stale: bool = False
    stale_days: int = Field(default=DEFAULT_STALE_DAYS, ge=1, le=36500)
    # Free text on the handle and the display name.
    q: SearchText | None = None
    # Exactly this handle (normalised for ``platform`` when it is given).
    handle: Reference | None = None


class AccountListQuery(AccountFilters):
    """The query string of ``GET /accounts``: filters, sort and paging."""

    sort: AccountSort = AccountSort.HANDLE
    cursor: CursorText | None = None
    limit: int | None = None

    def filters(self) -> AccountFilters:
        """The filters alone."""
        return AccountFilters.model_validate(
            self.model_dump(include=set(AccountFilters.model_fields))
        )


class PersonFilters(BaseModel):
    """Filters for ``GET /people``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mission: Reference | None = None
    status: PersonStatus | None = None
    email: Reference | None = None
    q: SearchText | None = None


class PersonListQuery(PersonFilters):
    """The query string of ``GET /people``: filters and paging (ordered by name)."""

    cursor: CursorText | None = None
    limit: int | None = None

    def filters(self) -> PersonFilters:
        """The filters alone."""
        return PersonFilters.model_validate(
            self.model_dump(include=set(PersonFilters.model_fields))
        )


# -- keyset cursors -------------------------------------------------------------------------


def after_key(columns: list[Any], values: list[Any], *, descending: bool) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``columns`` (all ascending or descending).

    Expanded to ``a > x OR (a = x AND b > y) …`` rather than a row-value comparison, which
    both SQLite and PostgreSQL turn into index range scans.
    """
    clauses = []
    for i, column in enumerate(columns):
        equal = [columns[j] == values[j] for j in range(i)]
        step = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal, step))
    return or_(*clauses)


def make_cursor(name: str, key: list[Any]) -> str:
    """An opaque cursor for ``key`` under the order ``name``."""
    return encode_cursor([name, *[_plain(v) for v in key]])


def read_cursor(cursor: str, name: str, kinds: list[type]) -> list[Any]:
    """The key a cursor carries, typed per ``kinds`` (str, uuid.UUID, datetime); 400 if bad."""
    values = decode_cursor(cursor, arity=len(kinds) + 1)
    if values[0] != name:
        raise BadRequest(_BAD_CURSOR)
    try:
        return [_typed(value, kind) for value, kind in zip(values[1:], kinds, strict=True)]
    except (TypeError, ValueError):
        raise BadRequest(_BAD_CURSOR) from None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | StrEnum):
        return str(value)
    return value


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, str):
        raise TypeError("cursor values are strings")
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        return parsed
    return value
