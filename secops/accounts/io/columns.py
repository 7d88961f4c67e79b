"""The columns of the inventory file: name, record type, fact group, and how each is read/written.

The CSV column and the JSON key share a name (inside a group's object, JSON drops the group
prefix: ``recovery_email`` is ``recovery.email``). ``*_source`` columns are written by the
export so the evidence's origin is visible; the import ignores them, because only the server
decides where a fact came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from secops.accounts.io import cells
from secops.accounts.io.cells import CellError, describe
from secops.accounts.io.records import ITEMS, AdminItem, AppItem, Group, RecordType
from secops.accounts.models import (
    AccountKind,
    AccountStatus,
    AccountTier,
    Affiliation,
    CredentialStorage,
    PersonStatus,
    PhoneOwner,
    Platform,
)

OBSERVED_AT: Final = "observed_at"
READ_ONLY_GROUP_KEYS: Final = frozenset({"source", "attested_by", "fact_status", "error_reason"})
RECORD_COLUMN: Final = "record"


@dataclass(frozen=True)
class Codec:
    """How a cell's text becomes a value and back, and what JSON type the value has."""

    parse: Callable[[str], Any]
    format: Callable[[Any], str]
    kind: str = "text"


@dataclass(frozen=True, eq=False)
class Column:
    """One field of a person or account: how its cell is parsed and written."""

    name: str
    record: RecordType
    key: str
    codec: Codec
    group: Group | None = None
    read_only: bool = False

    @property
    def kind(self) -> str:
        """The value's type: text, enum, date, bool, int, list, admins or apps."""
        return self.codec.kind

    def parse(self, text: str) -> Any:
        """The value of a non-empty cell; CellError when it is not acceptable."""
        return self.codec.parse(text)

    def format(self, value: Any) -> str:
        """The cell text of a value (never None)."""
        return self.codec.format(value)

    def from_json(self, value: Any) -> Any:
        """The value of this field from a JSON document (typed, or text parsed like a cell)."""
        if value is None:
            return None
        if self.kind == "bool" and isinstance(value, bool):
            return value
        if self.kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return self.parse(str(value))
        if self.kind in {"list", "admins", "apps"}:
            return _list_from_json(self, value)
        if not isinstance(value, str):
            raise CellError(f"expected text, not {describe(value)}")
        return self.parse(value.strip()) if value.strip() else None

    def to_json(self, value: Any) -> Any:
        """The JSON form of this field's value."""
        if value is None or self.kind in {"bool", "int"}:
            return value
        if self.kind == "list":
            return list(value)
        if self.kind == "admins":
            return [_admin_json(item) for item in value]
        if self.kind == "apps":
            return [_app_json(item) for item in value]
        return self.format(value)


def _text(limit: int) -> Callable[[str], str]:
    return lambda value: cells.parse_text(value, limit=limit)


def _str(value: Any) -> str:
    return str(value)


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _date_text(value: Any) -> str:
    return cells.format_datetime(value)


def _mission(value: str) -> str:
    code = value.upper()
    if len(code) > 32 or not code.replace("-", "").isalnum():
        raise CellError("not a mission code")
    return code


def _handle(value: str) -> str:
    return cells.parse_text(value, limit=320)


def _min_length(value: str) -> int:
    return cells.parse_int(value, low=1, high=1024)


def _methods(value: str) -> list[str]:
    return sorted({cells.parse_text(item, limit=100) for item in cells.parse_list(value)})


def _emails(value: str) -> list[str]:
    return sorted({cells.parse_email(item) for item in cells.parse_list(value)})


def _list_text(value: Any) -> str:
    return cells.format_list(list(value))


# -- administrators and connected apps ---------------------------------------------------------

_AFFILIATION = cells.enum_parser(Affiliation, "affiliation")
_ADMIN_KEYS: Final = frozenset({"role", "affiliation", "last_sign_in_at"})
_APP_KEYS: Final = frozenset(
    {"publisher", "scopes", "granted_by", "granted_at", "last_reviewed_at", "allow_listed"}
)


def _optional(attributes: dict[str, Any], key: str, parse: Callable[[str], Any]) -> Any:
    raw = attributes.get(key)
    if raw is None or raw == "":
        return None
    return parse(raw) if isinstance(raw, str) else raw


def _check_keys(name: str, attributes: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(attributes) - allowed)
    if unknown:
        raise CellError(f"unknown key {cells.quoted(unknown[0])} in the entry for {name!r}")


def _identity(value: str) -> str:
    value = cells.parse_text(value, limit=320)
    return cells.parse_email(value) if "@" in value else value


def make_admin(name: str, attributes: dict[str, Any]) -> AdminItem:
    """An administrator from its identity and attributes (text or typed JSON values)."""
    _check_keys("admin", attributes, _ADMIN_KEYS)
    return AdminItem(
        identity=_identity(name),
        role=_optional(attributes, "role", _text(100)),
        affiliation=_optional(attributes, "affiliation", _AFFILIATION) or Affiliation.MINISTRY,
        last_sign_in_at=_optional(attributes, "last_sign_in_at", cells.parse_datetime),
    )


def _scopes(value: Any) -> tuple[str, ...]:
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(s, str) for s in items):
        raise CellError("scopes must be text")
    return tuple(sorted({cells.parse_text(s.strip(), limit=500) for s in items if s.strip()}))


def make_app(name: str, attributes: dict[str, Any]) -> AppItem:
    """A connected app from its name and attributes (text or typed JSON values)."""
    _check_keys("app", attributes, _APP_KEYS)
    allow = attributes.get("allow_listed")
    return AppItem(
        name=cells.parse_text(name, limit=200),
        publisher=_optional(attributes, "publisher", _text(200)),
        scopes=_scopes(attributes.get("scopes") or ()),
        granted_by=_optional(attributes, "granted_by", _text(320)),
        granted_at=_optional(attributes, "granted_at", cells.parse_datetime),
        last_reviewed_at=_optional(attributes, "last_reviewed_at", cells.parse_datetime),
        allow_listed=allow
        if isinstance(allow, bool)
        else bool(_optional(attributes, "allow_listed", cells.parse_bool)),
    )


def _admins(value: str) -> list[AdminItem]:
    return sort_admins([make_admin(name, attrs) for name, attrs in cells.parse_entries(value)])


def _apps(value: str) -> list[AppItem]:
    return sort_apps([make_app(name, attrs) for name, attrs in cells.parse_entries(value)])


def sort_admins(items: list[AdminItem]) -> list[AdminItem]:
    """Administrators in the canonical order (by identity, then role)."""
    return sorted(items, key=lambda a: (a.identity, a.role or ""))


def sort_apps(items: list[AppItem]) -> list[AppItem]:
    """Connected apps in the canonical order (by name, then publisher)."""
    return sorted(items, key=lambda a: (a.name.lower(), a.name, a.publisher or ""))


def _when(value: datetime | None) -> str:
    return cells.format_datetime(value) if value else ""


def _admins_text(items: Any) -> str:
    return "; ".join(
        cells.format_entry(
            a.identity,
            {
                "role": a.role or "",
                "affiliation": "" if a.affiliation is Affiliation.MINISTRY else a.affiliation,
                "last_sign_in_at": _when(a.last_sign_in_at),
            },
        )
        for a in items
    )


def _apps_text(items: Any) -> str:
    return "; ".join(
        cells.format_entry(
            a.name,
            {
                "publisher": a.publisher or "",
                "scopes": " ".join(a.scopes),
                "granted_by": a.granted_by or "",
                "granted_at": _when(a.granted_at),
                "last_reviewed_at": _when(a.last_reviewed_at),
                "allow_listed": "true" if a.allow_listed else "",
            },
        )
        for a in items
    )


def _admin_json(item: AdminItem) -> dict[str, Any]:
    return {
        "identity": item.identity,
        "role": item.role,
        "affiliation": item.affiliation.value,
        "last_sign_in_at": _when(item.last_sign_in_at) or None,
    }


def _app_json(item: AppItem) -> dict[str, Any]:
    return {
        "name": item.name,
        "publisher": item.publisher,
        "scopes": list(item.scopes),
        "granted_by": item.granted_by,
        "granted_at": _when(item.granted_at) or None,
        "last_reviewed_at": _when(item.last_reviewed_at) or None,
        "allow_listed": item.allow_listed,
    }


def _list_from_json(column: Column, value: Any) -> Any:
    if not isinstance(value, list):
        raise CellError(f"expected a list, not {describe(value)}")
    if column.kind == "list":
        if not all(isinstance(item, str) for item in value):
            raise CellError("expected a list of text")
        return column.parse(";".join(cells.escape(item) for item in value))
    if not all(isinstance(item, dict) for item in value):
        raise CellError("expected a list of objects")
    if column.kind == "admins":
        return sort_admins([_typed_entry(make_admin, "identity", item) for item in value])
    return sort_apps([_typed_entry(make_app, "name", item) for item in value])


def _typed_entry(make: Callable[[str, dict[str, Any]], Any], key: str, item: dict[str, Any]) -> Any:
    attributes = dict(item)
    name = attributes.pop(key, None)
    if not isinstance(name, str) or not name.strip():
        raise CellError(f"every entry needs {key!r}")
    for attr, raw in attributes.items():
        if raw is not None and not isinstance(raw, str | bool | list):
            raise CellError(f"{attr!r} must be text, not {describe(raw)}")
    return make(name.strip(), attributes)


# -- the catalogue -----------------------------------------------------------------------------

P, A = RecordType.PERSON, RecordType.ACCOUNT
DATE = Codec(cells.parse_datetime, _date_text, "date")
BOOL = Codec(cells.parse_bool, _bool_text, "bool")
EMAIL = Codec(cells.parse_email, _str)
MISSION = Codec(_mission, _str)


def _enum(enum: Any, noun: str) -> Codec:
    return Codec(cells.enum_parser(enum, noun), _str, "enum")


def _plain(limit: int) -> Codec:
    return Codec(_text(limit), _str)


def _fact(group: Group, key: str, codec: Codec) -> Column:
    name = group.value if key == ITEMS else f"{group.value}_{key}"
    return Column(name, A, key, codec, group=group)


def _evidence(group: Group) -> list[Column]:
    return [
        Column(f"{group.value}_observed_at", A, OBSERVED_AT, DATE, group=group),
        Column(f"{group.value}_source", A, "evidence", _plain(600), group=group, read_only=True),
    ]


PERSON_COLUMNS: Final[tuple[Column, ...]] = (
    Column("email", P, "email", EMAIL),
    Column("full_name", P, "full_name", _plain(200)),
    Column("mission", P, "mission", MISSION),
    Column("position", P, "position", _plain(200)),
    Column("status", P, "status", _enum(PersonStatus, "person status")),
    Column("left_at", P, "left_at", DATE),
)

ACCOUNT_COLUMNS: Final[tuple[Column, ...]] = (
    Column("platform", A, "platform", _enum(Platform, "platform")),
    Column("handle", A, "handle", Codec(_handle, _str)),
    Column("url", A, "url", Codec(cells.parse_url, _str)),
    Column("display_name", A, "display_name", _plain(200)),
    Column("mission", A, "mission", MISSION),
    Column("tier", A, "tier", _enum(AccountTier, "tier")),
    Column("kind", A, "kind", _enum(AccountKind, "kind")),
    Column("owner", A, "owner", EMAIL),
    Column("status", A, "status", _enum(AccountStatus, "account status")),
    Column("last_activity_at", A, "last_activity_at", DATE),
    Column("verified_badge", A, "verified_badge", BOOL),
    Column("in_public_registry", A, "in_public_registry", BOOL),
    _fact(Group.MFA, "enabled", BOOL),
    _fact(Group.MFA, "enforced", BOOL),
    *_evidence(Group.MFA),
    _fact(Group.MFA_METHODS, ITEMS, Codec(_methods, _list_text, "list")),
    *_evidence(Group.MFA_METHODS),
    _fact(Group.RECOVERY, "email", Codec(cells.parse_secret_email, _str)),
    _fact(Group.RECOVERY, "phone", Codec(cells.parse_secret_phone, _str)),
    _fact(Group.RECOVERY, "phone_owner", _enum(PhoneOwner, "phone owner")),
    _fact(Group.RECOVERY, "carrier_lock", BOOL),
    _fact(Group.RECOVERY, "backup_codes_escrowed", BOOL),
    _fact(Group.RECOVERY, "last_verified_at", DATE),
    *_evidence(Group.RECOVERY),
    _fact(Group.CREDENTIAL, "storage", _enum(CredentialStorage, "credential storage")),
    _fact(Group.CREDENTIAL, "last_rotated_at", DATE),
    _fact(Group.CREDENTIAL, "min_length", Codec(_min_length, _str, "int")),
    _fact(Group.CREDENTIAL, "breach_checked_at", DATE),
    _fact(Group.CREDENTIAL, "holders", Codec(_emails, _list_text, "list")),
    *_evidence(Group.CREDENTIAL),
    _fact(Group.ADMINS, ITEMS, Codec(_admins, _admins_text, "admins")),
    *_evidence(Group.ADMINS),
    _fact(Group.CONNECTED_APPS, ITEMS, Codec(_apps, _apps_text, "apps")),
    *_evidence(Group.CONNECTED_APPS),
)

PERSON_BY_NAME: Final = {c.name: c for c in PERSON_COLUMNS}
ACCOUNT_BY_NAME: Final = {c.name: c for c in ACCOUNT_COLUMNS}
SHARED_COLUMNS: Final = ("mission", "status")
# Shared columns first, then the person's, then the account's (key first) and its facts.
CSV_COLUMNS: Final[tuple[str, ...]] = (
    RECORD_COLUMN,
    *SHARED_COLUMNS,
    *(c.name for c in PERSON_COLUMNS if c.name not in SHARED_COLUMNS),
    *(c.name for c in ACCOUNT_COLUMNS if c.name not in SHARED_COLUMNS),
)
DESCRIPTIVE: Final = tuple(c for c in ACCOUNT_COLUMNS if c.group is None)
GROUP_COLUMNS: Final[dict[Group, tuple[Column, ...]]] = {
    group: tuple(c for c in ACCOUNT_COLUMNS if c.group is group) for group in Group
}
REQUIRED_TO_CREATE: Final = {
    RecordType.PERSON: ("email", "full_name", "mission"),
    RecordType.ACCOUNT: ("platform", "handle", "mission", "tier", "kind"),
}
# Columns an attestation file may carry: the account's key and its facts.
ATTESTATION_KEYS: Final = frozenset({"platform", "handle"})
