"""Read and write the inventory file as CSV (``csvfile``) or JSON (``jsonfile``).

Both forms carry the same records; the columns and their values are described in
``columns`` and in the README's "Importing the inventory".
"""

from __future__ import annotations

from secops.accounts.io.csvfile import csv_rows, read_csv
from secops.accounts.io.jsonfile import FORMAT_NAME, FORMAT_VERSION, json_document, read_json
from secops.accounts.io.records import Errors, FileFormat, Mode, ParsedFile, Where

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FileFormat",
    "Mode",
    "ParsedFile",
    "csv_rows",
    "decode",
    "json_document",
    "parse",
]


def decode(data: bytes, errors: Errors) -> str | None:
    """The file's text (UTF-8, with or without a byte-order mark), or None after an error."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        errors.add(Where("file"), None, f"not UTF-8 text (byte {exc.start})")
        return None


def parse(data: bytes, file_format: FileFormat, mode: Mode = Mode.UPSERT) -> ParsedFile:
    """Read a whole file into records; problems are collected, never raised."""
    parsed = ParsedFile()
    text = decode(data, parsed.errors)
    if text is None:
        return parsed
    if file_format is FileFormat.CSV:
        read_csv(text, mode, parsed)
    else:
        read_json(text, mode, parsed)
    return parsed
