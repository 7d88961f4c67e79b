"""CLI output: Rich tables for people, JSON for scripts, one readable line on error."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


class CliFailure(Exception):
    """A CLI command failed for a reason the user can act on; printed as one line."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        self.message = message
        self.exit_code = exit_code
        super().__init__(message)


def fail(message: str, *, exit_code: int = 1) -> NoReturn:
    """Stop the command with one readable line on stderr and a non-zero exit."""
    raise CliFailure(message, exit_code=exit_code)


def print_error_line(message: str) -> None:
    """Write ``error: message`` on one line of stderr (line breaks folded)."""
    one_line = " ".join(message.split())
    sys.stderr.write(f"error: {one_line}\n")


def print_json(data: Any) -> None:
    """Machine-readable output."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def print_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    headers: Sequence[str] | None = None,
) -> None:
    """A Rich table of ``columns`` from each row."""
    table = Table(title=title, show_lines=False)
    for header in headers or columns:
        table.add_column(header.replace("_", " ").title())
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    stdout.print(table)


def print_record(record: Mapping[str, Any], *, title: str | None = None) -> None:
    """One object as aligned ``key: value`` lines."""
    if title:
        stdout.print(f"[bold]{title}[/bold]")
    width = max((len(k) for k in record), default=0)
    for key, value in record.items():
        stdout.print(f"  {key.ljust(width)}  {'' if value is None else value}", highlight=False)


JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")
