"""``secops audit``: verify, checkpoint, export and offline verification, as operators run them."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from secops.audit import signing
from secops.cli import app as cli_app
from secops.cli import main
from secops.core.config import Settings
from tests.audit.conftest import tamper

runner = CliRunner()


@pytest.fixture
def server_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment `secops` reads on the server: the test's data directory and database."""
    monkeypatch.setenv("SECOPS_ENV", "test")
    monkeypatch.setenv("SECOPS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SECOPS_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("SECOPS_LOG_FORMAT", "json")
    return settings


def secops(*args: str) -> Result:
    return runner.invoke(cli_app, list(args))


@pytest.mark.usefixtures("chain_1000", "server_env")
def test_verify_reports_ok_for_an_intact_trail() -> None:
    result = secops("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 1000 events, 3 checkpoints verified (3 exported)"


@pytest.mark.usefixtures("chain_1000", "server_env")
def test_verify_names_the_first_bad_seq_and_exits_non_zero(engine: Engine) -> None:
    tamper(engine, "UPDATE audit_event SET object_id = 'acct-x' WHERE seq = 321")
    result = secops("audit", "verify")
    assert result.exit_code == 1
    assert result.stdout.startswith("FAIL: first bad seq 321: ")


@pytest.mark.usefixtures("chain_1000", "server_env")
def test_the_installed_command_exits_non_zero_when_verification_fails(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Through main(), as the `secops` script runs: a failed verification must not exit 0.
    tamper(engine, "UPDATE audit_event SET object_id = 'acct-x' WHERE seq = 321")
    monkeypatch.setattr(sys, "argv", ["secops", "audit", "verify"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 1
    assert capsys.readouterr().out.startswith("FAIL: first bad seq 321: ")


@pytest.mark.usefixtures("chain_1000", "server_env")
def test_verify_json_is_machine_readable(engine: Engine) -> None:
    tamper(engine, "DELETE FROM audit_event WHERE seq > 900")
    result = secops("audit", "verify", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["first_bad_seq"] == 901
    assert report["events"] == 900


@pytest.mark.usefixtures("chain_1000", "server_env")
def test_a_verifier_key_held_elsewhere_catches_a_host_wide_forgery(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    held = tmp_path / "verifier.pub"
    held.write_text(secops("audit", "export", "--public-key").stdout)
    # Whoever owns the host swaps the key, drops every checkpoint and the export, and re-signs.
    key_file = settings.effective_audit_signing_key_file
    key_file.unlink()
    signing.load_or_create_signer(key_file)
    tamper(engine, "DELETE FROM audit_checkpoint")
    settings.effective_audit_export_file.unlink()
    assert secops("audit", "checkpoint").exit_code == 0
    assert secops("audit", "verify").exit_code == 0  # consistent with the forger's key...
    result = secops("audit", "verify", "--public-key", str(held))
    assert result.exit_code == 1  # ...but not with the key the auditor holds
    assert "not signed by" in result.stdout


@pytest.mark.usefixtures("server_env")
def test_checkpoint_signs_the_trail_now_and_prints_it(settings: Settings) -> None:
    result = secops("audit", "checkpoint", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["tree_size"] == 0
    assert record["note"].startswith(record["origin"] + "\n0\n")
    exported = settings.effective_audit_export_file.read_text().splitlines()
    assert json.loads(exported[-1])["note"] == record["note"]
    human = secops("audit", "checkpoint")
    assert "tree_size" in human.stdout
    assert record["origin"] in human.stdout


@pytest.mark.usefixtures("server_env")
def test_export_public_key_prints_the_verifier_key() -> None:
    result = secops("audit", "export", "--public-key")
    assert result.exit_code == 0
    key = signing.VerifierKey.parse(result.stdout)
    assert key.name.startswith("secops-audit/")


@pytest.mark.usefixtures("chain_1000", "server_env")
def test_an_export_verifies_offline_against_the_held_key(tmp_path: Path) -> None:
    bundle, key = tmp_path / "trail.jsonl", tmp_path / "verifier.pub"
    key.write_text(secops("audit", "export", "--public-key").stdout)
    result = secops("audit", "export", "--output", str(bundle))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    lines = bundle.read_text().splitlines()
    assert len(lines) == 1 + 3 + 1000
    checked = secops("audit", "verify-export", str(bundle), "--public-key", str(key))
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.strip() == "ok: 1000 events, 3 checkpoints verified (0 exported)"


@pytest.mark.usefixtures("chain_1000", "server_env")
def test_a_partial_export_still_verifies_against_later_checkpoints(tmp_path: Path) -> None:
    bundle, key = tmp_path / "tail.jsonl", tmp_path / "verifier.pub"
    key.write_text(secops("audit", "export", "--public-key").stdout)
    secops("audit", "export", "--from-seq", "601", "--output", str(bundle))
    checked = secops("audit", "verify-export", str(bundle), "--public-key", str(key), "--json")
    assert json.loads(checked.stdout) | {"ok": True} == json.loads(checked.stdout)
    assert json.loads(checked.stdout)["events"] == 400
    assert json.loads(checked.stdout)["checkpoints"] == 1


@pytest.mark.usefixtures("chain_1000", "server_env")
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"actor":"user:admin"', '"actor":"user:adm1n"'),  # an edited event
        ('"frontier":["', '"frontier":["00'),  # a forged prefix
    ],
)
def test_an_edited_export_fails_offline(tmp_path: Path, old: str, new: str) -> None:
    bundle, key = tmp_path / "trail.jsonl", tmp_path / "verifier.pub"
    key.write_text(secops("audit", "export", "--public-key").stdout)
    secops("audit", "export", "--from-seq", "2", "--output", str(bundle))
    text = bundle.read_text()
    assert old in text
    bundle.write_text(text.replace(old, new, 1))
    checked = secops("audit", "verify-export", str(bundle), "--public-key", str(key))
    assert checked.exit_code == 1
    assert checked.stdout.startswith("FAIL: ")


@pytest.mark.usefixtures("server_env")
def test_a_verifier_key_that_cannot_be_read_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key")
    result = secops("audit", "verify", "--public-key", str(bad))
    assert result.exit_code != 0
    assert "cannot read the verifier key" in str(result.exception)


@pytest.mark.usefixtures("server_env")
def test_an_exposed_signing_key_stops_the_command_with_one_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = settings.effective_audit_signing_key_file
    signing.load_or_create_signer(key_file)
    key_file.chmod(0o644)
    monkeypatch.setattr(sys, "argv", ["secops", "audit", "checkpoint"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: configuration: the audit signing key ")
    assert err[-1].endswith(f"run: chmod 600 {key_file}")
