"""Data-encryption keys, wrapped by the key-encryption key, stored in the database.

The KEK is 32 random bytes in ``settings.effective_kek_file`` (mode 0600, outside the database
directory). During a KEK rotation the previous key stays beside it as ``kek.key.<id>.old`` until
every data key is rewrapped. Data keys (DEKs) live in the ``data_key`` table wrapped with AES-KW;
unwrapped they are cached per process by id.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import uuid
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from sqlalchemy import CheckConstraint, Column, Index, LargeBinary, String, event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Field, Session, SQLModel, select

from secops.core.db import UTCDateTime, clock_of, info_of, lock_key, new_id
from secops.core.errors import ConfigurationError
from secops.core.logging import get_logger

if TYPE_CHECKING:
    from secops.core.config import Settings

log = get_logger("secops.crypto")

KEK_BYTES = 32
DEK_BYTES = 32
# Any constant works; it only has to be the same for every process using this database.
KEYRING_LOCK_KEY = 0x5EC0_4B45
_PRIMARY_INFO = "secops.primary_data_key"
_FORGET_HOOK = "secops.primary_data_key_hook"


class DataKeyStatus(StrEnum):
    """Where a data key is in its life."""

    PRIMARY = "primary"  # encrypts every new value
    ACTIVE = "active"  # still decrypts values that are not yet re-encrypted
    RETIRED = "retired"  # protects no value any more


class DataKey(SQLModel, table=True):
    """One data-encryption key, wrapped under the KEK named by ``kek_id``."""

    __tablename__ = "data_key"
    __table_args__ = (
        CheckConstraint("status IN ('primary', 'active', 'retired')", name="status"),
        # At most one primary: the second process that creates a first key loses on this index.
        Index(
            "uq_data_key_one_primary",
            "status",
            unique=True,
            sqlite_where=text("status = 'primary'"),
            postgresql_where=text("status = 'primary'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kek_id: str = Field(sa_column=Column(String(32), nullable=False))
    wrapped_key: bytes = Field(sa_column=Column(LargeBinary(64), nullable=False))
    status: DataKeyStatus = Field(sa_column=Column(String(10), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    rotated_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class KeyUnavailable(Exception):
    """A key needed for a value cannot be found or unwrapped; ``reason`` says which step failed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def kek_id_of(kek: bytes) -> str:
    """A short public name for a KEK, derived from it so the file needs no metadata."""
    return hashlib.sha256(b"secops/kek-id/v1|" + kek).hexdigest()[:16]


def read_key_file(path: Path) -> bytes:
    """Read a KEK file, refusing one that others can read or that is not exactly 32 bytes."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigurationError(f"the key file {path} does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigurationError(f"the key file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise ConfigurationError(
            f"the key file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
        )
    data = path.read_bytes()
    if len(data) != KEK_BYTES:
        raise ConfigurationError(
            f"the key file {path} holds {len(data)} bytes; a KEK is exactly {KEK_BYTES} bytes"
        )
    return data


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_key_file(path: Path, key: bytes, *, replace: bool = False) -> None:
    """Write ``key`` to ``path`` (mode 0600) atomically; without ``replace``, never overwrite."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    _write_private(staging, key)
    try:
        if replace:
            os.replace(staging, path)
        else:
            # link() creates the name only if it is absent, with the full content already there.
            os.link(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def create_kek_file(path: Path) -> str:
    """Create a fresh KEK at ``path``; fails with FileExistsError if one is there."""
    key = os.urandom(KEK_BYTES)
    write_key_file(path, key)
    return kek_id_of(key)


def _check_outside_database(kek_file: Path, database_url: str) -> None:
    if not database_url.startswith("sqlite:///"):
        return
    db_dir = Path(database_url.removeprefix("sqlite:///")).resolve().parent
    if kek_file.resolve().parent == db_dir:
        raise ConfigurationError(
            f"the key file {kek_file} is in the database directory; "
            "set SECOPS_KEK_FILE to a path in another directory"
        )


class Keyring:
    """The KEKs from disk and the unwrapped data keys, cached per process by id."""

    def __init__(self, kek_file: Path) -> None:
        self.kek_file = kek_file
        self._lock = threading.Lock()
        self._keks: dict[str, bytes] = {}
        self._current_kek_id = ""
        self._data_keys: dict[uuid.UUID, AESGCM] = {}
        self.refresh()

    @classmethod
    def load(cls, settings: Settings) -> Keyring:
        """Open the keyring for ``settings``; outside production a missing KEK is created."""
        path = settings.effective_kek_file
        _check_outside_database(path, settings.effective_database_url)
        if not path.exists():
            if settings.is_production:
                raise ConfigurationError(
                    f"the key file {path} (SECOPS_KEK_FILE) does not exist; "
                    "production never creates one: run `secops keys init` first"
                )
            try:
                kek_id = create_kek_file(path)
                log.info("crypto.kek_created", path=str(path), key_id=kek_id)
            except FileExistsError:
                pass  # another process created it first
        return cls(path)

    # -- KEKs ---------------------------------------------------------------------------------

    def _old_kek_path(self, kek_id: str) -> Path:
        return self.kek_file.with_name(f"{self.kek_file.name}.{kek_id}.old")

    def old_kek_files(self) -> list[Path]:
        """The previous KEKs kept until every data key is rewrapped."""
        return sorted(self.kek_file.parent.glob(f"{self.kek_file.name}.*.old"))

    def refresh(self) -> None:
        """Re-read the key files (a KEK rotation in another process replaces them)."""
        current = read_key_file(self.kek_file)
        keks = {kek_id_of(current): current}
        for path in self.old_kek_files():
            old = read_key_file(path)
            keks[kek_id_of(old)] = old
        with self._lock:
            self._keks.update(keks)
            self._current_kek_id = kek_id_of(current)

    @property
    def current_kek_id(self) -> str:
        """The id of the KEK that wraps new data keys."""
        return self._current_kek_id

    def previous_kek_ids(self) -> list[str]:
        """The ids of the previous KEKs still on disk (a KEK rotation has not finished)."""
        return sorted(kek_id_of(read_key_file(path)) for path in self.old_kek_files())

    def _kek(self, kek_id: str) -> bytes:
        kek = self._keks.get(kek_id)
        if kek is None:
            self.refresh()
            kek = self._keks.get(kek_id)
        if kek is None:
            log.error("crypto.kek_missing", key_id=kek_id, path=str(self.kek_file))
            raise KeyUnavailable("kek_missing")
        return kek

    def wrap(self, dek: bytes, *, kek_id: str | None = None) -> tuple[str, bytes]:
        """Wrap ``dek`` with AES-KW under ``kek_id`` (default: the KEK now on disk)."""
        if kek_id is None:
            self.refresh()  # a KEK rotation elsewhere may have replaced the file
            kek_id = self.current_kek_id
        return kek_id, aes_key_wrap(self._kek(kek_id), dek)

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes:
        """Unwrap a data key; a wrong or missing KEK raises KeyUnavailable."""
        try:
            return aes_key_unwrap(self._kek(kek_id), wrapped)
        except (InvalidUnwrap, ValueError):
            log.error("crypto.unwrap_failed", key_id=kek_id)
            raise KeyUnavailable("unwrap_failed") from None

    def install_new_kek(self) -> str:
        """Make a fresh KEK current, keeping the previous one as ``kek.key.<id>.old``."""
        previous = read_key_file(self.kek_file)
        old_path = self._old_kek_path(kek_id_of(previous))
        if not old_path.exists():
            write_key_file(old_path, previous)
        fresh = os.urandom(KEK_BYTES)
        write_key_file(self.kek_file, fresh, replace=True)
        self.refresh()
        return kek_id_of(fresh)

    def discard_old_keks(self, *, in_use: set[str]) -> list[str]:
        """Delete previous KEK files that wrap no data key any more; return their ids."""
        removed = []
        for path in self.old_kek_files():
            kek_id = kek_id_of(read_key_file(path))
            if kek_id not in in_use and kek_id != self.current_kek_id:
                path.unlink()
                removed.append(kek_id)
        if removed:
            _fsync_dir(self.kek_file.parent)
        return removed

    # -- data keys ----------------------------------------------------------------------------

    def forget_data_keys(self) -> None:
        """Drop the cached unwrapped data keys (they are read again on next use)."""
        with self._lock:
            self._data_keys.clear()

    def aead_for(self, session: Session, key_id: uuid.UUID) -> AESGCM:
        """The cipher for data key ``key_id``, unwrapped once per process."""
        aead = self._data_keys.get(key_id)
        if aead is not None:
            return aead
        row = session.get(DataKey, key_id, populate_existing=True)
        if row is None:
            raise KeyUnavailable("unknown_data_key")
        aead = AESGCM(self.unwrap(row.kek_id, row.wrapped_key))
        with self._lock:
            self._data_keys[key_id] = aead
        return aead

    def lock_shared(self, session: Session) -> None:
        """Writers hold this until commit, so a DEK switch waits for their in-flight values."""
        lock_key(session, KEYRING_LOCK_KEY, shared=True)

    def lock_exclusive(self, session: Session) -> None:
        """Rotation holds this while it changes the data_key rows."""
        lock_key(session, KEYRING_LOCK_KEY)

    def create_data_key(self, session: Session, *, status: DataKeyStatus) -> DataKey:
        """Insert a fresh data key wrapped under the current KEK and cache it."""
        dek = AESGCM.generate_key(bit_length=DEK_BYTES * 8)
        kek_id, wrapped = self.wrap(dek)
        row = DataKey(
            kek_id=kek_id, wrapped_key=wrapped, status=status, created_at=clock_of(session).now()
        )
        session.add(row)
        session.flush()
        with self._lock:
            self._data_keys[row.id] = AESGCM(dek)
        log.info("crypto.data_key_created", data_key_id=str(row.id), key_id=kek_id)
        return row

    def _select_primary(self, session: Session) -> DataKey | None:
        query = select(DataKey).where(DataKey.status == DataKeyStatus.PRIMARY)
        return session.exec(query).one_or_none()

    def primary_for_writes(self, session: Session) -> tuple[uuid.UUID, AESGCM]:
        """The primary data key, created on first use (race-safe across processes)."""
        key_id = session.info.get(_PRIMARY_INFO)
        if key_id is not None:
            return key_id, self.aead_for(session, key_id)
        self.lock_shared(session)
        row = self._select_primary(session)
        if row is None:
            try:
                with session.begin_nested():
                    row = self.create_data_key(session, status=DataKeyStatus.PRIMARY)
            except IntegrityError:
                # Another process created the first key at the same moment: use theirs.
                row = self._select_primary(session)
                if row is None:
                    raise
        if not session.info.get(_FORGET_HOOK):
            event.listen(session, "after_transaction_end", _forget_primary)
            session.info[_FORGET_HOOK] = True
        # Valid until this transaction (or any savepoint in it) ends: the shared lock keeps a
        # rotation from switching the primary meanwhile.
        session.info[_PRIMARY_INFO] = row.id
        return row.id, self.aead_for(session, row.id)


def _forget_primary(session: Session, _transaction: SessionTransaction) -> None:
    # A rolled-back savepoint may have taken a freshly created key with it.
    session.info.pop(_PRIMARY_INFO, None)


def keyring_of(session: Session) -> Keyring:
    """The keyring the session factory was given."""
    keyring = info_of(session, "keyring")
    if not isinstance(keyring, Keyring):
        raise RuntimeError("session.info['keyring'] is not a Keyring")
    return keyring
