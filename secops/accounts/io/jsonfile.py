"""The JSON form of the inventory file: ``{"people": [...], "accounts": [...]}``.

Each account nests its fact groups (``"recovery": {"email": ..., "observed_at": ...}``); a group
left out or ``null`` is not touched, unknown keys are errors, and errors are located as
``accounts[13]`` with the field's name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from secops.accounts.io import cells, columns
from secops.accounts.io.cells import CellError
from secops.accounts.io.columns import (
    ACCOUNT_BY_NAME,
    OBSERVED_AT,
    PERSON_BY_NAME,
    READ_ONLY_GROUP_KEYS,
    Column,
)
from secops.accounts.io.csvfile import collect, has_key
from secops.accounts.io.records import (
    AccountRecord,
    Errors,
    Group,
    GroupRecord,
    Mode,
    ParsedFile,
    PersonRecord,
    RecordType,
    Where,
)

FORMAT_NAME: Final = "secops-inventory"
FORMAT_VERSION: Final = 1


_TOP_KEYS: Final = frozenset({"format", "version", "exported_at", "people", "accounts"})


def read_json(text: str, mode: Mode, parsed: ParsedFile) -> None:
    errors = parsed.errors
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.add(Where(f"line {exc.lineno}", exc.lineno), None, f"not valid JSON ({exc.msg})")
        return
    if not isinstance(document, dict):
        errors.add(Where("document"), None, "expected an object with people and accounts")
        return
    for key in sorted(set(document) - _TOP_KEYS):
        errors.add(Where("document"), key, "unknown field")
    if document.get("format", FORMAT_NAME) != FORMAT_NAME:
        errors.add(Where("document"), "format", f"expected {FORMAT_NAME!r}")
    if document.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        errors.add(Where("document"), "version", f"expected {FORMAT_VERSION}")
    people = _json_list(document, "people", errors)
    if people and mode is Mode.ATTEST:
        errors.add(Where("people"), None, "an attestation file carries accounts only")
        people = []
    for index, item in enumerate(people):
        parsed.rows += 1
        _json_person(item, Where(f"people[{index}]"), parsed)
    for index, item in enumerate(_json_list(document, "accounts", errors)):
        parsed.rows += 1
        _json_account(item, Where(f"accounts[{index}]"), mode, parsed)


def _json_list(document: dict[str, Any], key: str, errors: Errors) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        errors.add(Where("document"), key, "expected a list")
        return []
    return value


def _json_value(column: Column, raw: Any, where: Where, name: str, errors: Errors) -> Any:
    try:
        return column.from_json(raw)
    except CellError as exc:
        errors.add(where, name, str(exc))
        return None


def _json_person(item: Any, where: Where, parsed: ParsedFile) -> None:
    if not isinstance(item, dict):
        parsed.errors.add(where, None, "expected an object")
        return
    fields: list[tuple[Column, Any]] = []
    before = parsed.errors.count
    for key, raw in item.items():
        column = PERSON_BY_NAME.get(key)
        if column is None:
            parsed.errors.add(where, key, "unknown field")
            continue
        fields.append((column, _json_value(column, raw, where, key, parsed.errors)))
    if parsed.errors.count == before:
        collect(RecordType.PERSON, where, fields, parsed)


def _json_account(item: Any, where: Where, mode: Mode, parsed: ParsedFile) -> None:
    errors = parsed.errors
    if not isinstance(item, dict):
        errors.add(where, None, "expected an object")
        return
    account = AccountRecord(where)
    before = errors.count
    for key, raw in item.items():
        column = ACCOUNT_BY_NAME.get(key)
        if key in Group.__members__.values():
            _json_group(account, Group(key), raw, where, errors)
        elif column is None or column.group is not None:
            errors.add(where, key, "unknown field")
        elif mode is Mode.ATTEST and key not in columns.ATTESTATION_KEYS:
            errors.add(where, key, "not allowed in an attestation file")
        else:
            account.values[column.key] = _json_value(column, raw, where, key, errors)
    if errors.count == before and has_key(account.values, ("platform", "handle"), where, errors):
        parsed.accounts.append(account)


def _json_group(
    account: AccountRecord, group: Group, raw: Any, where: Where, errors: Errors
) -> None:
    if raw is None:
        # null, like a group left out: not touched (as in the API's attestations).
        return
    if not isinstance(raw, dict):
        errors.add(where, group.value, "expected an object or null")
        return
    record = GroupRecord()
    by_key = {c.key: c for c in columns.GROUP_COLUMNS[group] if not c.read_only}
    for key, value in raw.items():
        name = f"{group.value}.{key}"
        column = by_key.get(key)
        if key in READ_ONLY_GROUP_KEYS:
            continue
        if column is None:
            errors.add(where, name, "unknown field")
        elif key == OBSERVED_AT:
            record.observed_at = _json_value(column, value, where, name, errors)
        else:
            record.values[key] = _json_value(column, value, where, name, errors)
    account.groups[group] = record


def json_document(
    people: Iterable[PersonRecord],
    accounts: Iterable[AccountRecord],
    *,
    exported_at: datetime,
) -> dict[str, Any]:
    """The JSON export: people, then accounts with their fact groups nested."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exported_at": cells.format_datetime(exported_at),
        "people": [_person_json(p) for p in people],
        "accounts": [_account_json(a) for a in accounts],
    }


def _person_json(person: PersonRecord) -> dict[str, Any]:
    return {c.name: c.to_json(person.values.get(c.key)) for c in columns.PERSON_COLUMNS}


def _account_json(account: AccountRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        c.name: c.to_json(account.values.get(c.key)) for c in columns.DESCRIPTIVE
    }
    for group in Group:
        record = account.groups.get(group)
        if record is None:
            out[group.value] = None
            continue
        body: dict[str, Any] = {}
        for column in columns.GROUP_COLUMNS[group]:
            if column.key == OBSERVED_AT:
                body[OBSERVED_AT] = column.to_json(record.observed_at)
            elif not column.read_only:
                body[column.key] = column.to_json(record.values.get(column.key))
        body.update({k: v for k, v in record.values.items() if k in READ_ONLY_GROUP_KEYS})
        out[group.value] = body
    return out
