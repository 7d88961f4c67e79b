"""``secops keys``: status and rotation of the encryption keys (server-local)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import typer
from rich.progress import Progress
from sqlmodel import Session

import secops.db_models  # noqa: F401  - every table (and its encrypted columns) registered
from secops.audit import service as audit_service
from secops.core import keyrotation
from secops.core.config import load_settings
from secops.core.console import JsonOption, fail, print_json, print_record, print_table, stderr
from secops.core.keyring import create_kek_file
from secops.core.keyrotation import RotationStep
from secops.core.principal import system_principal
from secops.core.runtime import Runtime

app = typer.Typer(no_args_is_help=True)

ACTOR = "secops keys"


def _audit(session: Session, step: RotationStep) -> None:
    audit_service.record(
        session,
        principal=system_principal(ACTOR),
        action=step.action,
        object_type=step.object_type,
        object_id=step.object_id,
        details=step.details,
    )


@app.command("init")
def init() -> None:
    """Create the key-encryption key file (needed once before the first production start)."""
    settings = load_settings()
    path = settings.effective_kek_file
    if path.exists():
        fail(f"the key file {path} already exists; rotate it with `secops keys rotate --kek`")
    kek_id = create_kek_file(path)
    print_record({"kek_id": kek_id, "file": str(path), "mode": "0600"}, title="KEK created")


@app.command("status")
def status(json_output: bool = JsonOption) -> None:
    """Show the KEK, every data key with its status and how many values each protects."""
    runtime = Runtime.build(load_settings())
    try:
        with runtime.sessions.begin() as session:
            state = keyrotation.key_status(session)
    finally:
        runtime.dispose()
    if json_output:
        print_json(asdict(state))
        return
    print_record(
        {
            "KEK": state.kek_id,
            "previous KEKs on disk": ", ".join(state.previous_kek_ids) or "none",
            "encrypted columns": ", ".join(state.columns) or "none registered",
            "unreadable values": state.unreadable_values,
        },
        title="Encryption at rest",
    )
    rows = [
        {
            **asdict(key),
            "created_at": f"{key.created_at:%Y-%m-%d %H:%M}",
            "rotated_at": f"{key.rotated_at:%Y-%m-%d %H:%M}" if key.rotated_at else None,
        }
        for key in state.data_keys
    ]
    print_table(
        rows,
        ["id", "status", "kek_id", "values", "created_at", "rotated_at"],
        title="Data keys",
        headers=["Data key", "Status", "Wrapped by", "Values", "Created", "Rotated"],
    )


def _rotate_dek(runtime: Runtime, batch_size: int) -> dict[str, Any]:
    with runtime.sessions.begin() as session:
        total = keyrotation.values_to_reencrypt(session)
    with Progress(console=stderr, transient=True) as progress:
        task = progress.add_task("re-encrypting", total=max(total, 1))
        outcome = keyrotation.rotate_dek(
            runtime.sessions,
            on_step=_audit,
            batch_size=batch_size,
            progress=lambda done: progress.advance(task, done),
        )
    return {
        "new_data_key": str(outcome.new_key_id),
        "previous_data_keys": [str(k) for k in outcome.previous_key_ids],
        "values_reencrypted": outcome.reencrypted,
        "retired_data_keys": [str(k) for k in outcome.retired],
    }


def _rotate_kek(runtime: Runtime) -> dict[str, Any]:
    outcome = keyrotation.rotate_kek(runtime.sessions, on_step=_audit)
    return {
        "kek_id": outcome.kek_id,
        "previous_kek_id": outcome.previous_kek_id,
        "data_keys_rewrapped": outcome.rewrapped,
        "old_kek_files_removed": outcome.removed_kek_ids,
    }


@app.command("rotate")
def rotate(
    kek: bool = typer.Option(False, "--kek", help="Rewrap every data key under a new KEK."),
    dek: bool = typer.Option(
        False, "--dek", help="New primary data key; re-encrypt every value; retire the old."
    ),
    batch_size: int = typer.Option(
        keyrotation.DEFAULT_BATCH_SIZE, "--batch-size", min=1, help="Values per transaction."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Rotate the key-encryption key (--kek) or the data key (--dek) without downtime."""
    if kek == dek:
        fail("choose exactly one of --kek or --dek")
    runtime = Runtime.build(load_settings())
    try:
        result = _rotate_kek(runtime) if kek else _rotate_dek(runtime, batch_size)
    finally:
        runtime.dispose()
    if json_output:
        print_json(result)
        return
    shown = {k: (", ".join(v) or "none") if isinstance(v, list) else v for k, v in result.items()}
    print_record(shown, title="KEK rotated" if kek else "Data key rotated")
