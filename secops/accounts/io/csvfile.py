"""The CSV form of the inventory file: a header row, then one row per person or account.

The ``record`` column says ``person`` or ``account``; without it every row is an account. Lists
are ``;``-separated cells, and cells a spreadsheet would run as a formula are written with a
leading single quote, which the reader removes again. Line numbers in errors are the file's
physical lines, quoted cells spanning several lines included.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final

from secops.accounts.io import cells, columns
from secops.accounts.io.cells import CellError
from secops.accounts.io.columns import (
    ACCOUNT_BY_NAME,
    CSV_COLUMNS,
    OBSERVED_AT,
    PERSON_BY_NAME,
    RECORD_COLUMN,
    Column,
)
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

_RECORD: Final = cells.enum_parser(RecordType, "record type")


# A column in the file: where its cell sits, its name, its key, the values of the texts seen so
# far (a file repeats most of its cells), and its parser.
Slot = tuple[int, str, str, dict[str, Any], Callable[[str], Any]]
MEMO_LIMIT: Final = 4096
_MISSING: Final = object()


@dataclass(frozen=True)
class Layout:
    """Where each known column sits in the file, per record type (worked out once)."""

    width: int
    record: int | None
    # Per record type: the columns outside any fact group, then each group's columns.
    plain: dict[RecordType, tuple[Slot, ...]]
    groups: dict[RecordType, tuple[tuple[Group, tuple[Slot, ...]], ...]]
    # Columns present in the file that a record type does not use: filled cells are errors.
    unused: dict[RecordType, tuple[tuple[int, str], ...]]


def _layout(names: list[str | None]) -> Layout:
    plain: dict[RecordType, list[Slot]] = {t: [] for t in RecordType}
    grouped: dict[RecordType, dict[Group, list[Slot]]] = {t: {} for t in RecordType}
    unused: dict[RecordType, list[tuple[int, str]]] = {t: [] for t in RecordType}
    for index, name in enumerate(names):
        if name is None or name == RECORD_COLUMN:
            continue
        for kind, catalogue in (
            (RecordType.PERSON, PERSON_BY_NAME),
            (RecordType.ACCOUNT, ACCOUNT_BY_NAME),
        ):
            column = catalogue.get(name)
            if column is None:
                unused[kind].append((index, name))
            elif not column.read_only:
                slot: Slot = (index, column.name, column.key, {}, column.codec.parse)
                if column.group is None:
                    plain[kind].append(slot)
                else:
                    grouped[kind].setdefault(column.group, []).append(slot)
    return Layout(
        width=len(names),
        record=names.index(RECORD_COLUMN) if RECORD_COLUMN in names else None,
        plain={k: tuple(v) for k, v in plain.items()},
        groups={k: tuple((g, tuple(s)) for g, s in v.items()) for k, v in grouped.items()},
        unused={k: tuple(v) for k, v in unused.items()},
    )


def _header(row: list[str], mode: Mode, errors: Errors) -> Layout | None:
    where = Where("line 1", 1)
    names: list[str | None] = []
    seen: set[str] = set()
    for raw in row:
        name = raw.strip().lower()
        if name in seen:
            errors.add(where, name, "column given twice")
        seen.add(name)
        known = name == RECORD_COLUMN or name in PERSON_BY_NAME or name in ACCOUNT_BY_NAME
        if not known:
            errors.add(where, name or "(empty)", "unknown column")
        elif mode is Mode.ATTEST and not _attestable(name):
            errors.add(where, name, "not allowed in an attestation file")
        names.append(name if known else None)
    if "platform" not in seen and "email" not in seen:
        errors.add(where, None, "the header names neither platform/handle nor email")
    return None if errors else _layout(names)


def _attestable(name: str) -> bool:
    column = ACCOUNT_BY_NAME.get(name)
    return column is not None and (column.group is not None or name in columns.ATTESTATION_KEYS)


def read_csv(text: str, mode: Mode, parsed: ParsedFile) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            parsed.errors.add(Where("line 1", 1), None, "the file is empty")
            return
        layout = _header(header, mode, parsed.errors)
        if layout is None:
            return
        start = reader.line_num + 1
        for row in reader:
            where = Where(f"line {start}", start)
            start = reader.line_num + 1
            if not "".join(row).strip():
                continue
            parsed.rows += 1
            _csv_row(row, layout, where, parsed)
    except csv.Error as exc:
        line = reader.line_num
        parsed.errors.add(Where(f"line {line}", line), None, f"malformed CSV ({exc})")


def _record_type(row: list[str], layout: Layout, where: Where, errors: Errors) -> RecordType | None:
    if layout.record is None or layout.record >= len(row):
        return RecordType.ACCOUNT
    raw = row[layout.record].strip()
    try:
        return _RECORD(raw) if raw else RecordType.ACCOUNT
    except CellError as exc:
        errors.add(where, RECORD_COLUMN, str(exc))
        return None


def _csv_row(row: list[str], layout: Layout, where: Where, parsed: ParsedFile) -> None:
    errors = parsed.errors
    if len(row) > layout.width:
        errors.add(where, None, f"{len(row)} cells, but the header has {layout.width}")
        return
    if len(row) < layout.width:
        row = row + [""] * (layout.width - len(row))
    kind = _record_type(row, layout, where, errors)
    if kind is None:
        return
    for index, name in layout.unused[kind]:
        if row[index].strip():
            errors.add(where, name, f"not used on {kind.value} rows")
    before = errors.count
    values: dict[str, Any] = {}
    _read(row, layout.plain[kind], where, errors, values)
    groups: dict[Group, GroupRecord] = {}
    for group, slots in layout.groups[kind]:
        group_values: dict[str, Any] = {}
        # A group counts as given when any of its cells, the evidence date included, is filled.
        if _read(row, slots, where, errors, group_values):
            observed_at = group_values.pop(OBSERVED_AT, None)
            groups[group] = GroupRecord(group_values, observed_at)
    if errors.count != before:
        # A row with a bad cell is left out, so checking the others does not repeat its error.
        return
    if kind is RecordType.PERSON:
        _keep_person(PersonRecord(where, values), parsed)
        return
    if has_key(values, ("platform", "handle"), where, errors):
        parsed.accounts.append(AccountRecord(where, values, groups))


def _read(
    row: list[str], slots: tuple[Slot, ...], where: Where, errors: Errors, out: dict[str, Any]
) -> bool:
    """Parse the cells of ``slots`` into ``out`` (empty cells as None); True if any is filled.

    Every parser is a pure function of the text, so a cell's text seen before reuses its value
    (lists are handed out as copies); a cell that fails is parsed again, to raise its error.
    """
    filled = False
    for index, name, key, seen, parse in slots:
        raw = row[index]
        value = seen.get(raw, _MISSING)
        if value is _MISSING:
            text = raw.strip()
            if not text:
                value = None
            else:
                if text[0] == "'":
                    text = cells.restore(text)
                try:
                    value = parse(text)
                except CellError as exc:
                    errors.add(where, name, str(exc))
                    continue
            if len(seen) < MEMO_LIMIT:
                seen[raw] = value
        if value is None:
            out[key] = None
            continue
        if type(value) is list:
            if not value:
                out[key] = []
                continue
            value = value.copy()
        out[key] = value
        filled = True
    return filled


def _keep_person(person: PersonRecord, parsed: ParsedFile) -> None:
    if has_key(person.values, ("email",), person.where, parsed.errors):
        parsed.people.append(person)


def collect(
    kind: RecordType, where: Where, fields: list[tuple[Column, Any]], parsed: ParsedFile
) -> None:
    if kind is RecordType.PERSON:
        _keep_person(PersonRecord(where, {c.key: v for c, v in fields}), parsed)
        return
    account = AccountRecord(where)
    groups: dict[Group, GroupRecord] = {}
    given: set[Group] = set()
    for column, value in fields:
        group = column.group
        if group is None:
            account.values[column.key] = value
            continue
        record = groups.get(group)
        if record is None:
            record = groups[group] = GroupRecord()
        if column.key == OBSERVED_AT:
            record.observed_at = value
        else:
            record.values[column.key] = value
        # A group counts as given when any of its cells, the evidence date included, is filled.
        if value is not None and value != []:
            given.add(group)
    account.groups = {g: r for g, r in groups.items() if g in given}
    if has_key(account.values, ("platform", "handle"), where, parsed.errors):
        parsed.accounts.append(account)


def has_key(values: dict[str, Any], keys: tuple[str, ...], where: Where, errors: Errors) -> bool:
    missing = [k for k in keys if values.get(k) is None]
    for key in missing:
        errors.add(where, key, "required")
    return not missing


# Rows written per chunk of text the export yields.
WRITE_CHUNK: Final = 1000


def csv_rows(people: Iterable[PersonRecord], accounts: Iterable[AccountRecord]) -> Iterator[str]:
    """The CSV file as text chunks: header, people, then accounts."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    person_cells, account_cells = _Cells(RecordType.PERSON), _Cells(RecordType.ACCOUNT)
    writer.writerows(person_cells.of(person.values, {}) for person in people)
    yield buffer.getvalue()
    batch: list[list[str]] = []
    for account in accounts:
        batch.append(account_cells.of(account.values, account.groups))
        if len(batch) == WRITE_CHUNK:
            yield _written(buffer, writer, batch)
            batch = []
    if batch:
        yield _written(buffer, writer, batch)


def _written(buffer: io.StringIO, writer: Any, rows: list[list[str]]) -> str:
    buffer.seek(0)
    buffer.truncate()
    writer.writerows(rows)
    return buffer.getvalue()


class _Cells:
    """Writes the cells of one record type's rows, in ``CSV_COLUMNS`` order.

    A file repeats most of its values (missions, tiers, dates, methods), so each column keeps
    the cell text of the values it has written: a repeated value is formatted and neutralised
    once.
    """

    def __init__(self, kind: RecordType) -> None:
        catalogue = PERSON_BY_NAME if kind is RecordType.PERSON else ACCOUNT_BY_NAME
        self.template = ["" for _ in CSV_COLUMNS]
        self.template[CSV_COLUMNS.index(RECORD_COLUMN)] = kind.value
        # Per column: its place in the row, its group and key, how it is written, its memo.
        self.plan = [
            (CSV_COLUMNS.index(name), column.group, column.key, column, dict[Any, str]())
            for name, column in catalogue.items()
        ]

    def of(self, values: dict[str, Any], groups: dict[Group, GroupRecord]) -> list[str]:
        """The row of a record with these values and fact groups."""
        row = self.template.copy()
        for position, group, key, column, memo in self.plan:
            if group is None:
                value = values.get(key)
            else:
                record = groups.get(group)
                if record is None:
                    continue
                value = record.observed_at if key == OBSERVED_AT else record.values.get(key)
            if value is None:
                continue
            remembered = _memo_key(value)
            text = None if remembered is None else memo.get(remembered)
            if text is None:
                text = cells.neutralise(column.format(value))
                if remembered is not None and len(memo) < MEMO_LIMIT:
                    memo[remembered] = text
            row[position] = text
        return row


_SCALARS: Final = frozenset({str, bool, int})


def _memo_key(value: Any) -> Any:
    """What a value's cell text is remembered by, or None when it is not remembered.

    Only values whose text their equality decides: text, numbers and enumeration members
    (keyed with their type, so ``1`` and ``True`` stay apart), timestamps in UTC (in another
    zone, two equal times may be written differently across a daylight-saving fold), and
    lists of text (methods, holders). Administrators and apps are written each time.
    """
    kind = type(value)
    if kind in _SCALARS or isinstance(value, Enum):
        return kind, value
    if kind is datetime and value.tzinfo is UTC:
        return kind, value
    if kind is list and all(type(item) is str for item in value):
        return kind, tuple(value)
    return None
