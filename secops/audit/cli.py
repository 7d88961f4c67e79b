"""``secops audit``: verify, checkpoint and export the audit trail (server-local).

These commands read the database directly with the server's settings; ``verify-export`` needs
no database at all, only an export and the verifier key.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import typer

from secops.audit import checkpoints, export, signing, verify
from secops.core.config import load_settings
from secops.core.console import JsonOption, fail, print_json, print_record, stdout
from secops.core.runtime import Runtime

app = typer.Typer(no_args_is_help=True)


@contextmanager
def _runtime() -> Iterator[Runtime]:
    runtime = Runtime.build(load_settings())
    try:
        yield runtime
    finally:
        runtime.dispose()


def _read_verifier_key(path: Path) -> signing.VerifierKey:
    try:
        return signing.VerifierKey.parse(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError, signing.NoteError) as exc:
        fail(f"cannot read the verifier key {path}: {exc}")


def _report(report: verify.VerifyReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_dict())
    else:
        typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)


@app.command("verify")
def verify_command(
    as_json: bool = JsonOption,
    public_key: Path | None = typer.Option(
        None, "--public-key", help="Check signatures with this verifier key, not the key file."
    ),
    export_file: Path | None = typer.Option(
        None, "--export-file", help="A copy of the exported checkpoints (default: the setting)."
    ),
) -> None:
    """Recompute the whole trail and check every checkpoint; exit 1 on the first problem."""
    verifier = _read_verifier_key(public_key) if public_key else None
    with _runtime() as runtime:
        report = verify.verify_database(
            runtime.engine, runtime.settings, verifier=verifier, export_file=export_file
        )
    _report(report, as_json)


@app.command("verify-export")
def verify_export_command(
    bundle: Path = typer.Argument(..., help="A file written by `secops audit export`."),
    public_key: Path = typer.Option(
        ..., "--public-key", help="The verifier key (from `secops audit export --public-key`)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Verify an export offline, against a verifier key you hold."""
    verifier = _read_verifier_key(public_key)
    try:
        with bundle.open(encoding="utf-8") as lines:
            report = export.verify_bundle(lines, verifier)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {bundle}: {exc}")
    _report(report, as_json)


@app.command("checkpoint")
def checkpoint_command(as_json: bool = JsonOption) -> None:
    """Sign a checkpoint of the trail as it stands now, store it and export it."""
    with _runtime() as runtime, runtime.sessions.begin() as session:
        record = checkpoints.export_record(checkpoints.create(session))
    if as_json:
        print_json(record)
        return
    print_record({k: v for k, v in record.items() if k != "note"}, title="checkpoint")
    stdout.print(record["note"], highlight=False, markup=False, end="")


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    # The export holds who did what from where: readable by its owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yield out


@app.command("export")
def export_command(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
    from_seq: int = typer.Option(1, "--from-seq", min=1, help="First event to export."),
    public_key: bool = typer.Option(
        False, "--public-key", help="Print only the verifier key for offline checks."
    ),
) -> None:
    """Export events (hashed form) and checkpoints as JSON lines, for offline verification."""
    settings = load_settings()
    signer = checkpoints.signer_for(settings)
    if public_key:
        typer.echo(signer.verifier.encode())
        return
    with _runtime() as runtime, _output(output) as out:
        stats = export.write_bundle(
            runtime.sessions, out, verifier=signer.verifier, from_seq=from_seq
        )
    if output is not None:
        typer.echo(
            f"exported {stats.events} events and {stats.checkpoints} checkpoints to {output}",
            err=True,
        )
