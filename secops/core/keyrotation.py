"""Key status and rotation without downtime: rewrap data keys, re-encrypt under a new data key.

The functions take a callback for each step so the caller (``secops keys``) can write an audit
event in the step's own transaction; this module sits in ``core`` and imports no domain.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnClause,
    CursorResult,
    LargeBinary,
    TableClause,
    Uuid,
    func,
    literal,
    literal_column,
    update,
)
from sqlalchemy import column as sa_column
from sqlalchemy import select as sa_select
from sqlalchemy import table as sa_table
from sqlmodel import Session, col, select

from secops.core import crypto
from secops.core.crypto import EncryptedColumn
from secops.core.db import SessionFactory, clock_of
from secops.core.errors import DatabaseUnavailable, DecryptionFailed, ServiceUnavailable
from secops.core.keyring import DataKey, DataKeyStatus, Keyring, KeyUnavailable, keyring_of
from secops.core.logging import get_logger

log = get_logger("secops.crypto")

DEFAULT_BATCH_SIZE = 500
BATCH_ATTEMPTS = 3  # a batch that deadlocks with a writer on PostgreSQL is simply run again
MAX_STALLED_BATCHES = 3


@dataclass(frozen=True)
class RotationStep:
    """One step of a rotation, handed to the caller to audit in the same transaction."""

    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]


StepRecorder = Callable[[Session, RotationStep], None]


@dataclass(frozen=True)
class DataKeyUsage:
    """A data key and how many stored values it protects."""

    id: uuid.UUID
    kek_id: str
    status: DataKeyStatus
    created_at: datetime
    rotated_at: datetime | None
    values: int


@dataclass(frozen=True)
class KeyStatus:
    """What ``secops keys status`` shows."""

    kek_id: str
    previous_kek_ids: list[str]
    data_keys: list[DataKeyUsage]
    columns: list[str]
    unreadable_values: int  # blobs that name no known data key or are not v1 ciphertexts


@dataclass
class DekRotation:
    """The outcome of ``rotate_dek``."""

    new_key_id: uuid.UUID
    previous_key_ids: list[uuid.UUID]
    reencrypted: int = 0
    retired: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class KekRotation:
    """The outcome of ``rotate_kek``."""

    kek_id: str
    previous_kek_id: str
    rewrapped: int
    removed_kek_ids: list[str]


def _columns_of(
    entry: EncryptedColumn,
) -> tuple[TableClause, ColumnClause[uuid.UUID], ColumnClause[bytes]]:
    ident = sa_column(entry.id_column, Uuid())
    value = sa_column(entry.column, LargeBinary())
    return sa_table(entry.table, ident, value), ident, value


def _substr(value: ColumnClause[bytes], start: int, length: int) -> Any:
    # Literal integers, not bound parameters: PostgreSQL must see the SELECT and GROUP BY
    # expressions as identical.
    return func.substr(
        value, literal_column(str(start)), literal_column(str(length)), type_=LargeBinary()
    )


def value_counts(session: Session) -> tuple[dict[uuid.UUID, int], int]:
    """Stored values per data key over every registered column, and the unreadable ones."""
    counts: dict[uuid.UUID, int] = {}
    unreadable = 0
    header = len(crypto.BLOB_VERSION) + crypto.KEY_ID_BYTES
    for entry in crypto.encrypted_columns():
        _, _, value = _columns_of(entry)
        prefix = _substr(value, 1, header)
        query = sa_select(prefix, func.count()).where(value.is_not(None)).group_by(prefix)
        for raw, count in session.execute(query).all():
            raw = bytes(raw or b"")
            if len(raw) != header or not raw.startswith(crypto.BLOB_VERSION):
                unreadable += int(count)
                continue
            key_id = uuid.UUID(bytes=raw[len(crypto.BLOB_VERSION) :])
            counts[key_id] = counts.get(key_id, 0) + int(count)
    return counts, unreadable


def key_status(session: Session) -> KeyStatus:
    """The current KEK, every data key with its value count, and the registered columns."""
    keyring = keyring_of(session)
    keyring.refresh()
    counts, unreadable = value_counts(session)
    rows = session.exec(select(DataKey).order_by(col(DataKey.created_at), col(DataKey.id))).all()
    known = {row.id for row in rows}
    unreadable += sum(n for key_id, n in counts.items() if key_id not in known)
    return KeyStatus(
        kek_id=keyring.current_kek_id,
        previous_kek_ids=keyring.previous_kek_ids(),
        data_keys=[
            DataKeyUsage(
                id=row.id,
                kek_id=row.kek_id,
                status=DataKeyStatus(row.status),
                created_at=row.created_at,
                rotated_at=row.rotated_at,
                values=counts.get(row.id, 0),
            )
            for row in rows
        ],
        columns=[f"{c.table}.{c.column}" for c in crypto.encrypted_columns()],
        unreadable_values=unreadable,
    )


# -- KEK rotation -------------------------------------------------------------------------------


def rotate_kek(sessions: SessionFactory, *, on_step: StepRecorder) -> KekRotation:
    """Make a new KEK current and rewrap every data key under it in one transaction.

    The new key file is in place before the transaction and the previous one stays beside it
    as ``kek.key.<id>.old``, so readers in every process can unwrap either way throughout; the
    old file is deleted only once no data key names it.
    """
    keyring: Keyring = sessions.info["keyring"]
    keyring.refresh()
    previous = keyring.current_kek_id
    kek_id = keyring.install_new_kek()
    with sessions.begin() as session:
        keyring.lock_exclusive(session)
        now = clock_of(session).now()
        rows = session.exec(select(DataKey)).all()
        for row in rows:
            try:
                dek = keyring.unwrap(row.kek_id, row.wrapped_key)
            except KeyUnavailable:
                raise DecryptionFailed(
                    f"Data key {row.id} cannot be unwrapped with any KEK on disk; "
                    "nothing was rewrapped."
                ) from None
            row.kek_id, row.wrapped_key = keyring.wrap(dek, kek_id=kek_id)
            row.rotated_at = now
        session.flush()
        details = {"previous_wrapping_key_id": previous, "data_keys_rewrapped": len(rows)}
        on_step(session, RotationStep("keys.rotate_kek", "kek", kek_id, details))
    with sessions.begin() as session:
        in_use = set(session.exec(select(DataKey.kek_id).distinct()).all())
    removed = keyring.discard_old_keks(in_use=in_use)
    log.info("crypto.kek_rotated", key_id=kek_id, rewrapped=len(rows), removed=removed)
    return KekRotation(kek_id, previous, len(rows), removed)


# -- DEK rotation -------------------------------------------------------------------------------


def _switch_primary(sessions: SessionFactory, on_step: StepRecorder) -> DekRotation:
    with sessions.begin() as session:
        keyring = keyring_of(session)
        # Waits for every writer that picked the old primary to commit: after this
        # transaction no new value is encrypted under an old key.
        keyring.lock_exclusive(session)
        now = clock_of(session).now()
        previous = list(
            session.exec(select(DataKey).where(DataKey.status == DataKeyStatus.PRIMARY)).all()
        )
        for row in previous:
            row.status, row.rotated_at = DataKeyStatus.ACTIVE, now
        session.flush()
        fresh = keyring.create_data_key(session, status=DataKeyStatus.PRIMARY)
        details = {"previous_data_key_ids": [str(r.id) for r in previous]}
        on_step(session, RotationStep("keys.rotate_dek", "data_key", str(fresh.id), details))
        return DekRotation(new_key_id=fresh.id, previous_key_ids=[r.id for r in previous])


def _reencrypt_batch(
    session: Session, entry: EncryptedColumn, primary: uuid.UUID, batch_size: int
) -> tuple[int, int]:
    """Re-encrypt up to ``batch_size`` values not under ``primary``; (changed, scanned)."""
    table, ident, value = _columns_of(entry)
    start = len(crypto.BLOB_VERSION) + 1
    on_old_key = _substr(value, start, crypto.KEY_ID_BYTES) != literal(primary.bytes, LargeBinary())
    query = (
        sa_select(ident, value)
        .where(value.is_not(None), on_old_key)
        .order_by(ident)
        .limit(batch_size)
    )
    rows = session.execute(query).all()
    changed = 0
    for row_id, blob in rows:
        bound_table, bound_column = entry.place
        place = {"table": bound_table, "column": bound_column, "row_id": row_id}
        plaintext = crypto.decrypt_bytes(session, blob=bytes(blob), **place)
        fresh = crypto.encrypt_bytes(session, plaintext=plaintext, **place)
        # Compare-and-set on the old blob: a value a writer changed meanwhile is newer than
        # ours and already under the primary key, so it is left alone.
        guarded = update(table).where(ident == row_id, value == blob).values({value: fresh})
        changed += cast(CursorResult[Any], session.execute(guarded)).rowcount
    return changed, len(rows)


def _run_batch(
    sessions: SessionFactory,
    entry: EncryptedColumn,
    primary: uuid.UUID,
    batch_size: int,
    on_step: StepRecorder,
) -> tuple[int, int]:
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            with sessions.begin() as session:
                changed, scanned = _reencrypt_batch(session, entry, primary, batch_size)
                if scanned:
                    details = {"table": entry.table, "column": entry.column, "values": changed}
                    step = RotationStep("keys.reencrypt", "data_key", str(primary), details)
                    on_step(session, step)
                return changed, scanned
        except DatabaseUnavailable:
            if attempt == BATCH_ATTEMPTS:
                raise
            log.warning("crypto.reencrypt_retry", table=entry.table, attempt=attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _reencrypt_column(
    sessions: SessionFactory,
    entry: EncryptedColumn,
    primary: uuid.UUID,
    batch_size: int,
    on_step: StepRecorder,
    progress: Callable[[int], None] | None,
) -> int:
    total, stalled = 0, 0
    while True:
        changed, scanned = _run_batch(sessions, entry, primary, batch_size, on_step)
        if scanned == 0:
            return total
        total += changed
        stalled = stalled + 1 if changed == 0 else 0
        if stalled >= MAX_STALLED_BATCHES:
            raise ServiceUnavailable(
                f"Re-encryption of {entry.table}.{entry.column} makes no progress; "
                "values are still being written under an old data key."
            )
        if progress is not None:
            progress(changed)


def retire_unused(sessions: SessionFactory, *, on_step: StepRecorder) -> list[uuid.UUID]:
    """Retire every non-primary data key that protects no value any more."""
    retired = []
    with sessions.begin() as session:
        keyring_of(session).lock_exclusive(session)
        counts, _ = value_counts(session)
        now = clock_of(session).now()
        active = session.exec(select(DataKey).where(DataKey.status == DataKeyStatus.ACTIVE)).all()
        for row in active:
            if counts.get(row.id, 0):
                continue
            row.status, row.rotated_at = DataKeyStatus.RETIRED, now
            session.flush()
            on_step(session, RotationStep("keys.retire_dek", "data_key", str(row.id), {}))
            retired.append(row.id)
    return retired


def values_to_reencrypt(session: Session) -> int:
    """How many stored values are under a data key other than the primary."""
    counts, unreadable = value_counts(session)
    primary = session.exec(select(DataKey.id).where(DataKey.status == DataKeyStatus.PRIMARY))
    primary_id = primary.one_or_none()
    return unreadable + sum(n for key_id, n in counts.items() if key_id != primary_id)


def rotate_dek(
    sessions: SessionFactory,
    *,
    on_step: StepRecorder,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> DekRotation:
    """New primary data key; re-encrypt every registered column in batches; retire old keys.

    Reads keep working throughout because each blob names its data key. Safe to run again
    after an interruption: it picks up whatever is still under an old key.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    outcome = _switch_primary(sessions, on_step)
    for entry in crypto.encrypted_columns():
        outcome.reencrypted += _reencrypt_column(
            sessions, entry, outcome.new_key_id, batch_size, on_step, progress
        )
    outcome.retired = retire_unused(sessions, on_step=on_step)
    log.info(
        "crypto.dek_rotated",
        data_key_id=str(outcome.new_key_id),
        reencrypted=outcome.reencrypted,
        retired=[str(k) for k in outcome.retired],
    )
    return outcome
