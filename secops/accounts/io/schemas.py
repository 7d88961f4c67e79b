"""API shapes of an import: what it did (or would do), per record type and per row."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from secops.accounts.io.formats import FileFormat, Mode
from secops.accounts.io.records import RecordType
from secops.accounts.results import UpsertOutcome

MAX_LISTED_ROWS = 1000


class Counts(BaseModel):
    """How many rows of one record type were (or would be) created, updated or left alone."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


class RowOutcome(BaseModel):
    """What happens to one row: its place in the file, its key, and the fields that change."""

    where: str
    line: int | None
    record: RecordType
    key: str
    outcome: UpsertOutcome
    changed: list[str]


class ImportReport(BaseModel):
    """The result of ``POST /accounts/import``; with ``dry_run`` nothing was stored."""

    import_id: uuid.UUID | None
    dry_run: bool
    format: FileFormat
    mode: Mode
    sha256: str
    bytes: int
    rows: int
    people: Counts
    accounts: Counts
    # The first rows, in file order (people first); ``rows_listed`` < ``rows`` when cut short.
    outcomes: list[RowOutcome]
    rows_listed: int
