"""Field encryption: format, AAD binding, fail-closed reads, the KEK file and the raw database."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from structlog.testing import capture_logs

from secops.app import create_app
from secops.core import crypto
from secops.core.clock import FrozenClock
from secops.core.config import Environment, Settings
from secops.core.db import DbSession, SessionFactory, metadata
from secops.core.errors import ConfigurationError, DecryptionFailed
from secops.core.keyring import DataKey, DataKeyStatus, Keyring, kek_id_of
from secops.core.runtime import Runtime
from tests.factories.crypto import VAULT, open_blob, put, raw, registered_vault, seal, vault

CANARY = "canary-7f3a9c-totp-JBSWY3DPEHPK3PXP"
ROW = uuid.UUID("6a1f0c52-6a34-4c64-9d7e-0c3b9c1f2a10")
OTHER_ROW = uuid.UUID("0d0f5bb4-3e0d-4a9b-8a3e-5c2c0a9b7e11")
AAD = crypto.associated_data(VAULT, "secret", ROW)


@pytest.fixture
def vault_sessions(app: FastAPI, sessions: SessionFactory) -> Iterator[SessionFactory]:
    """The app's sessions with the test vault table created and registered."""
    with registered_vault(app.state.engine):
        yield sessions


def _flip(blob: bytes, index: int) -> bytes:
    return blob[:index] + bytes([blob[index] ^ 0x01]) + blob[index + 1 :]


# -- the format, without a database ------------------------------------------------------------


@given(plaintext=st.binary(max_size=512), key=st.binary(min_size=32, max_size=32))
def test_sealed_value_round_trips_under_its_own_place(plaintext: bytes, key: bytes) -> None:
    key_id = uuid.uuid4()
    blob = crypto.seal(AESGCM(key), key_id=key_id, aad=AAD, plaintext=plaintext)

    assert crypto.unseal(AESGCM(key), aad=AAD, blob=blob) == plaintext
    assert crypto.key_id_of(blob) == key_id
    assert len(blob) == crypto.HEADER_BYTES + len(plaintext) + crypto.TAG_BYTES


def test_blob_is_version_key_id_nonce_then_ciphertext() -> None:
    key_id = uuid.uuid4()
    blob = crypto.seal(AESGCM(AESGCM.generate_key(256)), key_id=key_id, aad=AAD, plaintext=b"x")

    assert blob[:2] == b"v1"
    assert blob[2:18] == key_id.bytes
    assert len(blob[18:30]) == 12
    assert len(blob[30:]) == 1 + 16
    assert f"secops/v1|{VAULT}|secret|{ROW}".encode() == AAD


def test_same_plaintext_encrypts_to_different_blobs() -> None:
    aead, key_id = AESGCM(AESGCM.generate_key(256)), uuid.uuid4()

    blobs = {crypto.seal(aead, key_id=key_id, aad=AAD, plaintext=b"same") for _ in range(50)}

    assert len(blobs) == 50


@hypothesis_settings(max_examples=60)
@given(data=st.data())
def test_any_flipped_byte_outside_the_key_id_fails(data: st.DataObject) -> None:
    # A flipped key id selects another data key, which fails too (see the database tests).
    aead, key_id = AESGCM(bytes(32)), uuid.uuid4()
    blob = crypto.seal(aead, key_id=key_id, aad=AAD, plaintext=CANARY.encode())
    index = data.draw(
        st.integers(min_value=0, max_value=len(blob) - 1).filter(lambda i: not 2 <= i < 18)
    )

    with pytest.raises((crypto.MalformedBlob, InvalidTag)):
        crypto.unseal(aead, aad=AAD, blob=_flip(blob, index))


@pytest.mark.parametrize("name", ["User", "a|b", "x;drop", ""])
def test_table_and_column_names_must_be_plain_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        crypto.associated_data(name, "secret", ROW)
    with pytest.raises(ValueError, match="identifier"):
        crypto.register_encrypted_column("t", name)


def test_registering_a_column_twice_with_another_id_column_is_refused() -> None:
    crypto.register_encrypted_column("crypto_test_twice", "secret")
    try:
        assert crypto.register_encrypted_column("crypto_test_twice", "secret").id_column == "id"
        with pytest.raises(ValueError, match="already registered"):
            crypto.register_encrypted_column("crypto_test_twice", "secret", "user_id")
    finally:
        crypto.unregister_encrypted_column("crypto_test_twice", "secret")


# -- through the database -------------------------------------------------------------------------


def test_field_round_trips_through_the_database(vault_sessions: SessionFactory) -> None:
    with vault_sessions.begin() as session:
        put(session, ROW, secret=CANARY, note="ünïcødé ✓")
    with vault_sessions.begin() as session:
        blob = raw(session, ROW)
        assert blob is not None
        assert CANARY.encode() not in blob
        assert open_blob(session, ROW, blob) == CANARY
        assert open_blob(session, ROW, raw(session, ROW, "note") or b"", "note") == "ünïcødé ✓"


def test_first_use_creates_one_primary_data_key_wrapped_under_the_kek(
    vault_sessions: SessionFactory,
) -> None:
    with vault_sessions.begin() as session:
        put(session, ROW, secret="a")
        put(session, OTHER_ROW, secret="b")
    with vault_sessions.begin() as session:
        keys = session.exec(select(DataKey)).all()
        keyring: Keyring = session.info["keyring"]
        assert len(keys) == 1
        assert keys[0].status == DataKeyStatus.PRIMARY
        assert keys[0].kek_id == keyring.current_kek_id
        assert len(keys[0].wrapped_key) == 40  # AES-KW of 32 bytes
        assert crypto.key_id_of(raw(session, ROW) or b"") == keys[0].id


@pytest.mark.parametrize(
    ("table", "column", "row_id"),
    [(VAULT, "secret", OTHER_ROW), (VAULT, "note", ROW), ("user", "secret", ROW)],
    ids=["other-row", "other-column", "other-table"],
)
def test_ciphertext_moved_elsewhere_fails_to_decrypt(
    vault_sessions: SessionFactory, table: str, column: str, row_id: uuid.UUID
) -> None:
    with vault_sessions.begin() as session:
        put(session, ROW, secret=CANARY)
        blob = raw(session, ROW) or b""

    with vault_sessions.begin() as session, pytest.raises(DecryptionFailed):
        crypto.decrypt_field(session, table=table, column=column, row_id=row_id, blob=blob)


def test_ciphertexts_swapped_between_rows_fail_for_both(vault_sessions: SessionFactory) -> None:
    with vault_sessions.begin() as session:
        put(session, ROW, secret="row one")
        put(session, OTHER_ROW, secret="row two")
        first, second = raw(session, ROW) or b"", raw(session, OTHER_ROW) or b""

    with vault_sessions.begin() as session:
        for row_id, blob in ((ROW, second), (OTHER_ROW, first)):
            with pytest.raises(DecryptionFailed):
                open_blob(session, row_id, blob)


@pytest.mark.parametrize("index", [0, 1, 5, 20, 35, -1])
def test_tampered_blob_fails_closed_and_logs_without_secrets(
    vault_sessions: SessionFactory, index: int
) -> None:
    with vault_sessions.begin() as session:
        put(session, ROW, secret=CANARY)
        blob = raw(session, ROW) or b""

    with (
        vault_sessions.begin() as session,
        capture_logs() as logs,
        pytest.raises(DecryptionFailed) as caught,
    ):
        open_blob(session, ROW, _flip(blob, index % len(blob)))

    assert caught.value.status == 503
    failures = [e for e in logs if e["event"] == "crypto.decrypt_failed"]
    assert failures == [
        {
            "event": "crypto.decrypt_failed",
            "log_level": "error",
            "table": VAULT,
            "column": "secret",
            "row_id": str(ROW),
            "reason": failures[0]["reason"],
        }
    ]
    assert failures[0]["reason"] in {"malformed", "unknown_data_key", "authentication_failed"}
    assert CANARY not in repr(logs)
    assert CANARY not in str(caught.value)


@pytest.mark.parametrize("blob", [b"", b"v1", b"v2" + bytes(60), b"plain text secret"])
def test_non_ciphertext_is_never_returned_as_plaintext(
    vault_sessions: SessionFactory, blob: bytes
) -> None:
    with vault_sessions.begin() as session, pytest.raises(DecryptionFailed):
        open_blob(session, ROW, blob)


def test_second_creator_of_the_first_data_key_uses_the_winners_key(
    vault_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with vault_sessions.begin() as session:  # another process wins the race and commits
        winner = session.info["keyring"].create_data_key(session, status=DataKeyStatus.PRIMARY)
    original, calls = Keyring._select_primary, []

    def first_read_is_stale(self: Keyring, session: Session) -> DataKey | None:
        calls.append(session)
        return None if len(calls) == 1 else original(self, session)

    monkeypatch.setattr(Keyring, "_select_primary", first_read_is_stale)

    with vault_sessions.begin() as session:
        put(session, ROW, secret=CANARY)
    with vault_sessions.begin() as session:
        assert crypto.key_id_of(raw(session, ROW) or b"") == winner.id
        assert len(session.exec(select(DataKey)).all()) == 1
        assert open_blob(session, ROW, raw(session, ROW) or b"") == CANARY
    assert len(calls) >= 2  # the stale read happened, then the winner's key was read


def test_savepoint_rolled_back_with_the_first_key_strands_no_later_value(
    vault_sessions: SessionFactory, settings: Settings
) -> None:
    with vault_sessions.begin() as session:
        savepoint = session.begin_nested()
        seal(session, ROW, "discarded")  # creates the first key inside the caller's savepoint
        savepoint.rollback()
        put(session, ROW, secret=CANARY)

    other_process = Runtime.build(settings)
    try:
        with other_process.sessions.begin() as session:
            blob = raw(session, ROW) or b""
            assert session.get(DataKey, crypto.key_id_of(blob)) is not None
            assert open_blob(session, ROW, blob) == CANARY
    finally:
        other_process.dispose()


def test_two_writers_racing_for_the_first_key_create_only_one(
    vault_sessions: SessionFactory,
) -> None:
    start, errors = threading.Barrier(2), []

    def write(row_id: uuid.UUID) -> None:
        try:
            start.wait(timeout=10)
            with vault_sessions.begin() as session:
                put(session, row_id, secret=str(row_id))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(r,)) for r in (ROW, OTHER_ROW)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    with vault_sessions.begin() as session:
        assert len(session.exec(select(DataKey)).all()) == 1
        assert open_blob(session, OTHER_ROW, raw(session, OTHER_ROW) or b"") == str(OTHER_ROW)


# -- the KEK file ----------------------------------------------------------------------------------


def _build(settings: Settings, **changes: object) -> Runtime:
    return Runtime.build(Settings(**{**dict(settings), **changes}))


def test_kek_is_created_on_first_start_outside_production_with_mode_0600(
    settings: Settings,
) -> None:
    runtime = _build(settings, data_dir=settings.data_dir / "fresh")
    try:
        path = runtime.keyring.kek_file
        assert path == settings.data_dir / "fresh" / "keys" / "kek.key"
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.parent.stat().st_mode & 0o077 == 0
        assert len(path.read_bytes()) == 32
        assert runtime.keyring.current_kek_id == kek_id_of(path.read_bytes())
    finally:
        runtime.dispose()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_startup_refuses_a_kek_file_readable_by_others(settings: Settings, mode: int) -> None:
    path = settings.effective_kek_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(32))
    path.chmod(mode)

    with pytest.raises(ConfigurationError, match="accessible by group or others") as caught:
        create_app(settings, configure_logs=False)

    assert "\n" not in str(caught.value)
    assert "chmod 600" in str(caught.value)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_startup_refuses_a_kek_file_of_the_wrong_size(settings: Settings, size: int) -> None:
    path = settings.effective_kek_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    path.chmod(0o600)

    with pytest.raises(ConfigurationError, match="exactly 32 bytes"):
        Runtime.build(settings)


def test_production_refuses_to_start_without_a_kek_file(settings: Settings) -> None:
    production = Settings(
        **{**dict(settings), "env": Environment.PRODUCTION, "secret_key": "s" * 48}
    )

    with pytest.raises(ConfigurationError, match="does not exist") as caught:
        create_app(production, configure_logs=False)

    assert not production.effective_kek_file.exists()
    assert "secops keys init" in str(caught.value)


def test_startup_refuses_a_kek_file_in_the_database_directory(
    settings: Settings, tmp_path: Path
) -> None:
    db_file = tmp_path / "same" / "secops.db"

    with pytest.raises(ConfigurationError, match="database directory"):
        _build(settings, database_url=f"sqlite:///{db_file}", kek_file=db_file.parent / "k.key")


def test_value_fails_closed_when_the_kek_file_is_replaced(
    vault_sessions: SessionFactory, settings: Settings
) -> None:
    with vault_sessions.begin() as session:
        put(session, ROW, secret=CANARY)
    path = settings.effective_kek_file
    path.unlink()
    path.write_bytes(os.urandom(32))
    path.chmod(0o600)

    other_process = Runtime.build(settings)
    try:
        with other_process.sessions.begin() as session, capture_logs() as logs:
            blob = raw(session, ROW) or b""
            with pytest.raises(DecryptionFailed):
                open_blob(session, ROW, blob)
    finally:
        other_process.dispose()
    assert [e["reason"] for e in logs if e["event"] == "crypto.decrypt_failed"] == ["kek_missing"]


def test_data_key_does_not_unwrap_under_a_wrong_kek(vault_sessions: SessionFactory) -> None:
    with vault_sessions.begin() as session:
        put(session, ROW, secret=CANARY)
        key = session.exec(select(DataKey)).one()
        keyring: Keyring = session.info["keyring"]
        keyring._keks[key.kek_id] = os.urandom(32)  # same id, different bytes
        keyring.forget_data_keys()

        with capture_logs() as logs, pytest.raises(DecryptionFailed):
            open_blob(session, ROW, raw(session, ROW) or b"")

    assert [e["reason"] for e in logs if e["event"] == "crypto.decrypt_failed"] == ["unwrap_failed"]


# -- the raw database file -------------------------------------------------------------------------


def test_raw_sqlite_file_and_wal_hold_no_plaintext(tmp_path: Path, clock: FrozenClock) -> None:
    # Always SQLite: the point is grepping the bytes on disk, whatever the suite's backend.
    db_file = tmp_path / "db" / "secops.db"
    settings = Settings(
        env=Environment.TEST, data_dir=tmp_path / "data", database_url=f"sqlite:///{db_file}"
    )
    runtime = Runtime.build(settings, clock=clock)
    try:
        metadata.create_all(runtime.engine)
        with registered_vault(runtime.engine):
            with runtime.sessions.begin() as session:
                put(session, ROW, secret=CANARY, note=CANARY)
            with runtime.sessions.begin() as session:
                stored = raw(session, ROW) or b""
            wal = Path(f"{db_file}-wal").read_bytes()
            on_disk = db_file.read_bytes() + wal
    finally:
        runtime.dispose()

    assert len(wal) > 0
    assert stored in on_disk  # the ciphertext is there, so the grep looked in the right place
    assert on_disk.count(CANARY.encode()) == 0
    assert on_disk.count(CANARY.encode("utf-16-le")) == 0


# -- fail closed over HTTP -------------------------------------------------------------------------


def _mount_vault_reader(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/test-only/vault/{row_id}")
    def read_vault(row_id: uuid.UUID, session: DbSession) -> dict[str, str]:
        blob = session.execute(select(vault.c.secret).where(vault.c.id == row_id)).scalar_one()
        return {"secret": open_blob(session, row_id, bytes(blob))}

    app.include_router(router)


def test_route_that_hits_a_decryption_failure_answers_503_problem(
    app: FastAPI, client: TestClient, vault_sessions: SessionFactory
) -> None:
    _mount_vault_reader(app)
    with vault_sessions.begin() as session:
        put(session, ROW, secret=CANARY)
        put(session, OTHER_ROW, secret="moved")
        session.execute(
            vault.update().where(vault.c.id == OTHER_ROW).values(secret=raw(session, ROW))
        )
    assert client.get(f"/test-only/vault/{ROW}").json() == {"secret": CANARY}

    with capture_logs() as logs:
        response = client.get(f"/test-only/vault/{OTHER_ROW}")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:secops:problem:decryption-failed"
    assert body["status"] == 503
    assert CANARY not in response.text
    assert any(
        e["event"] == "crypto.decrypt_failed" and e["row_id"] == str(OTHER_ROW) for e in logs
    )
    assert CANARY not in repr(logs)
