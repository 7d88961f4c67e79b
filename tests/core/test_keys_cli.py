"""``secops keys``: status, rotation and init, run as an administrator on the server would."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import col, select
from typer.testing import CliRunner

from secops.audit.models import AuditEvent
from secops.cli import app as cli_app
from secops.cli import main
from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.keyring import kek_id_of, read_key_file
from secops.core.principal import system_principal
from tests.factories.crypto import fill, read_all, registered_vault

runner = CliRunner()
KEYS_ACTOR = system_principal("secops keys").actor


@pytest.fixture
def server_env(settings: Settings) -> dict[str, str]:
    """The environment `secops` reads on the server: same data directory and database."""
    return {
        "SECOPS_ENV": "test",
        "SECOPS_DATA_DIR": str(settings.data_dir),
        "SECOPS_DATABASE_URL": str(settings.database_url),
        "SECOPS_LOG_FORMAT": "json",
    }


@pytest.fixture
def vault_sessions(app: FastAPI, sessions: SessionFactory) -> Iterator[SessionFactory]:
    """The app's sessions with the test vault table created and registered."""
    with registered_vault(app.state.engine):
        yield sessions


@pytest.fixture
def stored(vault_sessions: SessionFactory) -> dict[uuid.UUID, tuple[str, str | None]]:
    """Seven encrypted secrets and notes, stored through the app's sessions."""
    rows = [(uuid.uuid4(), f"secret-{i}", f"note-{i}" if i % 2 else None) for i in range(7)]
    fill(vault_sessions, rows)
    return {row_id: (secret, note) for row_id, secret, note in rows}


def _run_json(env: dict[str, str], *args: str) -> Any:
    result = runner.invoke(cli_app, ["keys", *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _main(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> int:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["secops", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _audited(sessions: SessionFactory) -> list[tuple[str, str, str | None, str]]:
    with sessions.begin() as session:
        events = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action).startswith("keys."))
            .order_by(col(AuditEvent.seq))
        ).all()
        return [(e.action, e.object_type, e.object_id, e.actor) for e in events]


def test_status_shows_the_kek_and_each_data_key_with_its_value_count(
    stored: dict[uuid.UUID, tuple[str, str | None]], server_env: dict[str, str], settings: Settings
) -> None:
    result = runner.invoke(cli_app, ["keys", "status"], env=server_env)
    state = _run_json(server_env, "status")

    assert result.exit_code == 0, result.output
    kek_id = kek_id_of(read_key_file(settings.effective_kek_file))
    assert kek_id in result.stdout
    assert "primary" in result.stdout
    assert state["kek_id"] == kek_id
    assert [(k["status"], k["values"], k["kek_id"]) for k in state["data_keys"]] == [
        ("primary", 7 + 3, kek_id)
    ]
    assert "crypto_test_vault.secret" in state["columns"]
    assert state["unreadable_values"] == 0


def test_rotate_dek_reencrypts_everything_retires_the_old_key_and_audits_each_step(
    stored: dict[uuid.UUID, tuple[str, str | None]],
    server_env: dict[str, str],
    vault_sessions: SessionFactory,
) -> None:
    (old,) = _run_json(server_env, "status")["data_keys"]

    rotated = _run_json(server_env, "rotate", "--dek", "--batch-size", "3")

    keys = {k["id"]: k for k in _run_json(server_env, "status")["data_keys"]}
    assert rotated["previous_data_keys"] == [old["id"]]
    assert rotated["retired_data_keys"] == [old["id"]]
    assert rotated["values_reencrypted"] == 10
    assert (keys[old["id"]]["status"], keys[old["id"]]["values"]) == ("retired", 0)
    assert (keys[rotated["new_data_key"]]["status"], keys[rotated["new_data_key"]]["values"]) == (
        "primary",
        10,
    )
    assert read_all(vault_sessions) == stored
    audited = _audited(vault_sessions)
    assert audited[0] == ("keys.rotate_dek", "data_key", rotated["new_data_key"], KEYS_ACTOR)
    assert audited[-1] == ("keys.retire_dek", "data_key", old["id"], KEYS_ACTOR)
    assert [a[0] for a in audited].count("keys.reencrypt") == 3 + 1  # 7 secrets, 3 notes


def test_rotate_kek_rewraps_data_keys_under_a_new_key_file_and_audits_it(
    stored: dict[uuid.UUID, tuple[str, str | None]],
    server_env: dict[str, str],
    vault_sessions: SessionFactory,
    settings: Settings,
) -> None:
    before = kek_id_of(read_key_file(settings.effective_kek_file))

    rotated = _run_json(server_env, "rotate", "--kek")

    after = kek_id_of(read_key_file(settings.effective_kek_file))
    assert rotated["previous_kek_id"] == before
    assert rotated["kek_id"] == after != before
    assert rotated["data_keys_rewrapped"] == 1
    assert rotated["old_kek_files_removed"] == [before]
    state = _run_json(server_env, "status")
    assert state["kek_id"] == after
    assert state["previous_kek_ids"] == []
    assert {k["kek_id"] for k in state["data_keys"]} == {after}
    assert read_all(vault_sessions) == stored  # the running app reads on, without a restart
    assert _audited(vault_sessions) == [("keys.rotate_kek", "kek", after, KEYS_ACTOR)]


@pytest.mark.parametrize("flags", [[], ["--kek", "--dek"]], ids=["neither", "both"])
def test_rotate_needs_exactly_one_of_kek_or_dek(
    flags: list[str],
    server_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = _main(monkeypatch, server_env, "keys", "rotate", *flags)

    assert code == 1
    assert capsys.readouterr().err == "error: choose exactly one of --kek or --dek\n"


def test_production_refuses_to_start_until_keys_init_creates_the_kek(
    app: FastAPI,
    server_env: dict[str, str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kek_file = settings.data_dir / "prod-keys" / "kek.key"
    production = {
        **server_env,
        "SECOPS_ENV": "production",
        "SECOPS_SECRET_KEY": "p" * 48,
        "SECOPS_KEK_FILE": str(kek_file),
    }

    refused = _main(monkeypatch, production, "keys", "status")
    refusal = capsys.readouterr().err
    created = _main(monkeypatch, production, "keys", "init")
    init_output = capsys.readouterr().out
    again = _main(monkeypatch, production, "keys", "init")
    second_refusal = capsys.readouterr().err
    started = _main(monkeypatch, production, "keys", "status", "--json")

    assert refused == 2
    assert refusal.startswith("error: configuration: the key file ")
    assert "secops keys init" in refusal
    assert refusal.count("\n") == 1
    assert created == 0
    assert kek_id_of(read_key_file(kek_file)) in init_output
    assert kek_file.stat().st_mode & 0o777 == 0o600
    assert again == 1
    assert "already exists" in second_refusal
    assert started == 0
    assert json.loads(capsys.readouterr().out)["kek_id"] == kek_id_of(read_key_file(kek_file))


def test_status_refuses_a_kek_file_readable_by_others(
    app: FastAPI,
    server_env: dict[str, str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings.effective_kek_file.chmod(0o644)

    code = _main(monkeypatch, server_env, "keys", "status")

    assert code == 2
    err = capsys.readouterr().err
    assert "accessible by group or others" in err
    assert err.count("\n") == 1
