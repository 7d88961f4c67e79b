"""``secops accounts import|export`` (acts as the signed-in user).

``import`` sends the whole file in one request (the server checks and stores it in one
transaction), showing the upload as a progress bar for large files, then lists the problems by
line and column if the server refused it. ``export`` writes the file the API returns; a file
that may hold recovery details is created readable by its owner only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from secops.accounts.io.formats import FileFormat
from secops.accounts.models import AccountKind, AccountStatus, AccountTier, Platform
from secops.core.client import ApiClient, ApiError
from secops.core.console import JsonOption, fail, print_json, print_table, stderr

IMPORT = "/api/v1/accounts/import"
EXPORT = "/api/v1/accounts/export"
CHUNK = 256 * 1024
PROGRESS_FROM_BYTES = 1024 * 1024
IMPORT_TIMEOUT = 600.0
MEDIA = {FileFormat.CSV: "text/csv", FileFormat.JSON: "application/json"}


def _format_of(path: Path, given: FileFormat | None) -> FileFormat:
    if given is not None:
        return given
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in {f.value for f in FileFormat}:
        fail(f"cannot tell the format of {path.name}; add --format csv or --format json")
    return FileFormat(suffix)


def _chunks(data: bytes, progress: Progress | None) -> Iterator[bytes]:
    task = progress.add_task("Uploading", total=len(data)) if progress else None
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        if progress is not None and task is not None:
            progress.update(task, advance=len(chunk))
        yield chunk
    if progress is not None:
        progress.add_task("Checking and storing every row (one transaction)", total=None)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
    )


def _send(
    client: ApiClient, data: bytes, file_format: FileFormat, params: dict[str, Any], show: bool
) -> dict[str, Any]:
    headers = {"Content-Type": MEDIA[file_format]}
    if not show:
        response = client.request(
            "POST", IMPORT, content=data, params=params, headers=headers, timeout=IMPORT_TIMEOUT
        )
    else:
        with _progress() as progress:
            response = client.request(
                "POST",
                IMPORT,
                content=_chunks(data, progress),
                params=params,
                headers=headers,
                timeout=IMPORT_TIMEOUT,
            )
    result: dict[str, Any] = response.json()
    return result


def _print_problems(error: ApiError) -> None:
    problems = error.body.get("errors") or []
    for problem in problems:
        text = problem.get("text") or " ".join(str(p) for p in problem.get("loc", []))
        stderr.print(f"  {text}", highlight=False, markup=False)
    if problems:
        stderr.print(f"({len(problems)} listed)", highlight=False)


def _print_report(report: dict[str, Any]) -> None:
    verb = "would be" if report["dry_run"] else "were"
    rows = [
        {"record": kind, **report[key]}
        for kind, key in (("people", "people"), ("accounts", "accounts"))
    ]
    print_table(rows, ["record", "created", "updated", "unchanged"])
    changed = [o for o in report["outcomes"] if o["outcome"] != "unchanged"]
    if report["dry_run"] and changed:
        print_table(changed, ["where", "record", "key", "outcome", "changed"])
    note = "Nothing was stored (dry run)." if report["dry_run"] else "Stored in one transaction."
    typer.echo(f"{report['rows']} rows {verb} imported from {report['bytes']} bytes. {note}")


def import_command(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The file."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would change; store nothing."
    ),
    file_format: FileFormat | None = typer.Option(
        None, "--format", help="csv or json (default: from the file name)."
    ),
    attest: bool = typer.Option(
        False, "--attest", help="An attestation file: re-record facts of existing accounts."
    ),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", help="Show the upload (default: for files over 1 MiB)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Import people and accounts from a CSV or JSON file: every row, or nothing."""
    chosen = _format_of(path, file_format)
    data = path.read_bytes()
    show = progress if progress is not None else len(data) >= PROGRESS_FROM_BYTES
    params = {
        "format": chosen.value,
        "dry_run": "true" if dry_run else None,
        "mode": "attest" if attest else None,
    }
    client = ApiClient()
    try:
        report = _send(client, data, chosen, params, show)
    except ApiError as exc:
        if exc.status == 422:
            _print_problems(exc)
        fail(f"{exc.detail} (HTTP {exc.status})")
    if as_json:
        print_json(report)
    else:
        _print_report(report)


def _write_private(path: Path, body: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)


def export_command(
    file_format: FileFormat = typer.Option(FileFormat.CSV, "--format", help="csv or json."),
    output: Path | None = typer.Option(
        None, "--output", "-o", dir_okay=False, help="Write here (mode 0600); default stdout."
    ),
    mission: str | None = typer.Option(None, "--mission", help="Only this mission (code or id)."),
    platform: Platform | None = typer.Option(None, "--platform"),
    tier: AccountTier | None = typer.Option(None, "--tier"),
    kind: AccountKind | None = typer.Option(None, "--kind"),
    status: AccountStatus | None = typer.Option(None, "--status"),
) -> None:
    """Export the people and accounts on your missions as CSV or JSON."""
    params = {
        "format": file_format.value,
        "mission": mission,
        "platform": platform.value if platform else None,
        "tier": tier.value if tier else None,
        "kind": kind.value if kind else None,
        "status": status.value if status else None,
    }
    response = ApiClient().request("GET", EXPORT, params=params, timeout=IMPORT_TIMEOUT)
    if output is None:
        sys.stdout.buffer.write(response.content)
        sys.stdout.flush()
        return
    _write_private(output, response.content)
    stderr.print(f"wrote {len(response.content)} bytes to {output}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``import`` and ``export`` to the accounts command."""
    app.command("import")(import_command)
    app.command("export")(export_command)
