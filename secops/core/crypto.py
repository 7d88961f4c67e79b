"""Field encryption at rest: AES-256-GCM under a data key, bound to its table, column and row.

A stored value is ``b"v1" | data key id (16 bytes) | nonce (12) | ciphertext + tag (16)``. The
associated data is ``b"secops/v1|<table>|<column>|<row id>"``, so a ciphertext copied to another
row, column or table fails to decrypt. Reads pick the key by the id in the blob, which is what
lets a DEK rotation run while the service keeps serving.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import Session

from secops.core.errors import DecryptionFailed
from secops.core.keyring import KeyUnavailable, keyring_of
from secops.core.logging import get_logger

log = get_logger("secops.crypto")

BLOB_VERSION = b"v1"
KEY_ID_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(BLOB_VERSION) + KEY_ID_BYTES + NONCE_BYTES
MIN_BLOB_BYTES = HEADER_BYTES + TAG_BYTES
AAD_PREFIX = b"secops/v1|"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class MalformedBlob(ValueError):
    """The bytes are not a v1 secops ciphertext."""


# -- the column registry ----------------------------------------------------------------------


@dataclass(frozen=True)
class EncryptedColumn:
    """A column holding blobs from ``encrypt_field``; rotation and key status walk these."""

    table: str
    column: str
    id_column: str = "id"
    # The place the ciphertexts are bound to (``table.column`` of their AAD), when it is not
    # where they are stored: values moved by a migration keep the binding they were sealed with.
    label: str | None = None

    @property
    def place(self) -> tuple[str, str]:
        """The (table, column) named in the values' associated data."""
        if self.label is None:
            return self.table, self.column
        table, column = self.label.split(".")
        return table, column


_registry: dict[tuple[str, str], EncryptedColumn] = {}
_registry_lock = threading.Lock()


def _check_identifier(kind: str, name: str) -> None:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{kind} {name!r} is not a plain lower-case SQL identifier")


def register_encrypted_column(
    table: str, column: str, id_column: str = "id", *, label: str | None = None
) -> EncryptedColumn:
    """Declare that ``table.column`` holds ciphertexts keyed by the UUID in ``id_column``.

    Domains call this at import time, next to the model. Registering the same column again is
    harmless; registering it with another id column is a programming error.
    """
    for kind, name in (("table", table), ("column", column), ("id column", id_column)):
        _check_identifier(kind, name)
    if label is not None:
        for kind, name in zip(("label table", "label column"), label.split("."), strict=True):
            _check_identifier(kind, name)
    entry = EncryptedColumn(table, column, id_column, label)
    with _registry_lock:
        existing = _registry.setdefault((table, column), entry)
    if existing != entry:
        raise ValueError(f"{table}.{column} is already registered with another id column")
    return entry


def unregister_encrypted_column(table: str, column: str) -> None:
    """Forget a registration (tests that register a temporary table use this)."""
    with _registry_lock:
        _registry.pop((table, column), None)


def encrypted_columns() -> tuple[EncryptedColumn, ...]:
    """Every registered encrypted column, in a stable order."""
    with _registry_lock:
        return tuple(sorted(_registry.values(), key=lambda c: (c.table, c.column)))


# -- the blob format ----------------------------------------------------------------------------


def associated_data(table: str, column: str, row_id: uuid.UUID) -> bytes:
    """The AAD that binds a value to its place: ``secops/v1|table|column|row id``."""
    _check_identifier("table", table)
    _check_identifier("column", column)
    return AAD_PREFIX + f"{table}|{column}|{row_id}".encode()


def seal(aead: AESGCM, *, key_id: uuid.UUID, aad: bytes, plaintext: bytes) -> bytes:
    """Encrypt under ``aead`` with a fresh random nonce and prefix the version and key id."""
    nonce = os.urandom(NONCE_BYTES)
    return BLOB_VERSION + key_id.bytes + nonce + aead.encrypt(nonce, plaintext, aad)


def key_id_of(blob: bytes) -> uuid.UUID:
    """The data key a blob names; MalformedBlob if it is not a v1 ciphertext."""
    if len(blob) < MIN_BLOB_BYTES or not blob.startswith(BLOB_VERSION):
        raise MalformedBlob("not a v1 secops ciphertext")
    return uuid.UUID(bytes=bytes(blob[len(BLOB_VERSION) : len(BLOB_VERSION) + KEY_ID_BYTES]))


def unseal(aead: AESGCM, *, aad: bytes, blob: bytes) -> bytes:
    """Decrypt a blob whose key is ``aead``; InvalidTag if it was altered or moved."""
    key_id_of(blob)
    nonce = bytes(blob[HEADER_BYTES - NONCE_BYTES : HEADER_BYTES])
    return aead.decrypt(nonce, bytes(blob[HEADER_BYTES:]), aad)


# -- the API domains call -----------------------------------------------------------------------


def encrypt_bytes(
    session: Session, *, table: str, column: str, row_id: uuid.UUID, plaintext: bytes
) -> bytes:
    """Encrypt ``plaintext`` for ``table.column`` of row ``row_id`` under the primary data key."""
    aad = associated_data(table, column, row_id)
    try:
        key_id, aead = keyring_of(session).primary_for_writes(session)
    except KeyUnavailable as exc:
        log.error(
            "crypto.encrypt_failed",
            table=table,
            column=column,
            row_id=str(row_id),
            reason=exc.reason,
        )
        raise DecryptionFailed("The data key could not be unwrapped; nothing was stored.") from None
    return seal(aead, key_id=key_id, aad=aad, plaintext=plaintext)


def decrypt_bytes(
    session: Session, *, table: str, column: str, row_id: uuid.UUID, blob: bytes
) -> bytes:
    """Decrypt a value from ``encrypt_bytes``; any failure raises DecryptionFailed (503)."""
    aad = associated_data(table, column, row_id)
    try:
        aead = keyring_of(session).aead_for(session, key_id_of(blob))
        return unseal(aead, aad=aad, blob=blob)
    except MalformedBlob:
        reason = "malformed"
    except KeyUnavailable as exc:
        reason = exc.reason
    except InvalidTag:
        reason = "authentication_failed"
    log.error(
        "crypto.decrypt_failed", table=table, column=column, row_id=str(row_id), reason=reason
    )
    raise DecryptionFailed("A stored secret could not be decrypted; nothing was returned.")


def encrypt_field(
    session: Session, *, table: str, column: str, row_id: uuid.UUID, plaintext: str
) -> bytes:
    """Encrypt a text value for ``table.column`` of row ``row_id``; store the returned bytes."""
    return encrypt_bytes(
        session, table=table, column=column, row_id=row_id, plaintext=plaintext.encode()
    )


def decrypt_field(
    session: Session, *, table: str, column: str, row_id: uuid.UUID, blob: bytes
) -> str:
    """Decrypt a text value from ``encrypt_field``; raises DecryptionFailed, never falls back."""
    data = decrypt_bytes(session, table=table, column=column, row_id=row_id, blob=blob)
    try:
        return data.decode()
    except UnicodeDecodeError:
        log.error(
            "crypto.decrypt_failed",
            table=table,
            column=column,
            row_id=str(row_id),
            reason="not_text",
        )
        raise DecryptionFailed(
            "A stored secret could not be decrypted; nothing was returned."
        ) from None
