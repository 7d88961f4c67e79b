"""A throwaway table with two encrypted columns, on its own metadata so Alembic never sees it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Column, Engine, LargeBinary, MetaData, Table, Uuid, insert, select, update
from sqlmodel import Session

from secops.core import crypto
from secops.core.db import SessionFactory

VAULT = "crypto_test_vault"
vault_metadata = MetaData()
vault = Table(
    VAULT,
    vault_metadata,
    Column("id", Uuid, primary_key=True),
    Column("secret", LargeBinary, nullable=True),
    Column("note", LargeBinary, nullable=True),
)
COLUMNS = ("secret", "note")


@contextmanager
def registered_vault(*engines: Engine) -> Iterator[None]:
    """Create the vault table on ``engines`` and register its columns for the test's duration.

    The table is dropped afterwards: on PostgreSQL the suite shares one database and wipes only
    the tables on the shared metadata.
    """
    for engine in engines:
        vault_metadata.create_all(engine)
    for column in COLUMNS:
        crypto.register_encrypted_column(VAULT, column)
    try:
        yield
    finally:
        for column in COLUMNS:
            crypto.unregister_encrypted_column(VAULT, column)
        for engine in engines:
            vault_metadata.drop_all(engine)


def seal(session: Session, row_id: uuid.UUID, value: str, column: str = "secret") -> bytes:
    """``value`` encrypted for the vault's ``column`` of ``row_id``."""
    return crypto.encrypt_field(session, table=VAULT, column=column, row_id=row_id, plaintext=value)


def open_blob(session: Session, row_id: uuid.UUID, blob: bytes, column: str = "secret") -> str:
    """Decrypt a vault blob."""
    return crypto.decrypt_field(session, table=VAULT, column=column, row_id=row_id, blob=blob)


def put(session: Session, row_id: uuid.UUID, **values: str | None) -> None:
    """Insert or overwrite a vault row with the given plaintexts, encrypted."""
    blobs = {c: None if v is None else seal(session, row_id, v, c) for c, v in values.items()}
    exists = session.execute(select(vault.c.id).where(vault.c.id == row_id)).first()
    if exists is None:
        session.execute(insert(vault).values(id=row_id, **blobs))
    else:
        session.execute(update(vault).where(vault.c.id == row_id).values(**blobs))


def raw(session: Session, row_id: uuid.UUID, column: str = "secret") -> bytes | None:
    """The stored blob, undecrypted."""
    value = session.execute(select(vault.c[column]).where(vault.c.id == row_id)).scalar_one()
    return None if value is None else bytes(value)


def get(session: Session, row_id: uuid.UUID, column: str = "secret") -> str | None:
    """The decrypted value of a vault cell."""
    blob = raw(session, row_id, column)
    return None if blob is None else open_blob(session, row_id, blob, column)


def fill(sessions: SessionFactory, values: Iterable[tuple[uuid.UUID, str, str | None]]) -> None:
    """Store (id, secret, note) rows in one transaction."""
    with sessions.begin() as session:
        for row_id, secret, note in values:
            put(session, row_id, secret=secret, note=note)


def read_all(sessions: SessionFactory) -> dict[uuid.UUID, tuple[str | None, str | None]]:
    """Every vault row, decrypted."""
    with sessions.begin() as session:
        ids = session.execute(select(vault.c.id)).scalars().all()
        return {i: (get(session, i, "secret"), get(session, i, "note")) for i in ids}
