"""What a file says about people and accounts, independent of CSV or JSON.

A record holds only the fields its file gave: a CSV column that is absent, or a JSON key that is
left out, leaves the stored value alone; an empty cell or ``null`` clears it. The exporter
builds the same records from the database, so a file that was exported and imported again
compares equal field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from secops.accounts.models import Affiliation, Platform


class FileFormat(StrEnum):
    """The two file formats."""

    CSV = "csv"
    JSON = "json"


class Mode(StrEnum):
    """``upsert`` creates and updates; ``attest`` re-records facts of existing accounts only."""

    UPSERT = "upsert"
    ATTEST = "attest"


class RecordType(StrEnum):
    """What one CSV row or JSON object describes."""

    PERSON = "person"
    ACCOUNT = "account"


class Group(StrEnum):
    """The fact groups of an account; each carries its own evidence date."""

    MFA = "mfa"
    MFA_METHODS = "mfa_methods"
    RECOVERY = "recovery"
    CREDENTIAL = "credential"
    ADMINS = "admins"
    CONNECTED_APPS = "connected_apps"


LIST_GROUPS = frozenset({Group.MFA_METHODS, Group.ADMINS, Group.CONNECTED_APPS})
ITEMS = "items"


class Where(NamedTuple):
    """Where a record sits in its file: ``line 14`` (CSV) or ``accounts[13]`` (JSON)."""

    label: str
    line: int | None = None


class RowError(NamedTuple):
    """One problem with one record, and the column (or JSON field) it concerns."""

    where: Where
    column: str | None
    message: str

    def __str__(self) -> str:
        column = f", column {self.column}" if self.column else ""
        return f"{self.where.label}{column}: {self.message}"

    def as_problem(self) -> dict[str, Any]:
        """The entry in the 422 problem's ``errors`` list."""
        loc = [self.where.label] + ([self.column] if self.column else [])
        return {
            "loc": loc,
            "msg": self.message,
            "type": "import",
            "line": self.where.line,
            "column": self.column,
            "text": str(self),
        }


@dataclass(frozen=True)
class AdminItem:
    """An administrator of an account: a person's e-mail or an outside identity."""

    identity: str
    role: str | None = None
    affiliation: Affiliation = Affiliation.MINISTRY
    last_sign_in_at: datetime | None = None


@dataclass(frozen=True)
class AppItem:
    """A third-party app connected to an account."""

    name: str
    publisher: str | None = None
    scopes: tuple[str, ...] = ()
    granted_by: str | None = None
    granted_at: datetime | None = None
    last_reviewed_at: datetime | None = None
    allow_listed: bool = False


@dataclass
class GroupRecord:
    """The fields of one fact group a file gave, and when the evidence was true (if given)."""

    values: dict[str, Any] = field(default_factory=dict)
    observed_at: datetime | None = None


@dataclass
class PersonRecord:
    """A person row: upserted by e-mail."""

    where: Where
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def email(self) -> str:
        """The key the person is matched by."""
        return str(self.values["email"])


@dataclass
class AccountRecord:
    """An account row: upserted by (platform, handle)."""

    where: Where
    values: dict[str, Any] = field(default_factory=dict)
    groups: dict[Group, GroupRecord] = field(default_factory=dict)
    # (platform, normalised handle), worked out once by ``context.account_key``.
    key: tuple[Platform, str] | None = field(default=None, compare=False, repr=False)


MAX_REPORTED_ERRORS = 100


@dataclass
class Errors:
    """Problems found in a file: all are counted, the first hundred are kept for the report."""

    first: list[RowError] = field(default_factory=list)
    count: int = 0

    def add(self, where: Where, column: str | None, message: str) -> None:
        """Record one problem."""
        self.count += 1
        if len(self.first) < MAX_REPORTED_ERRORS:
            self.first.append(RowError(where, column, message))

    def __bool__(self) -> bool:
        return self.count > 0


@dataclass
class ParsedFile:
    """Everything a file said, and every problem found while reading it."""

    people: list[PersonRecord] = field(default_factory=list)
    accounts: list[AccountRecord] = field(default_factory=list)
    errors: Errors = field(default_factory=Errors)
    rows: int = 0
