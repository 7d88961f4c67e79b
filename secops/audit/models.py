"""The append-only audit trail: one hash-chained row per security-relevant change."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DDL, JSON, BigInteger, Column, Integer, LargeBinary, String, Text, event
from sqlmodel import Field, SQLModel

from secops.core.db import UTCDateTime, new_id


class Outcome(StrEnum):
    """Whether the audited action succeeded."""

    SUCCESS = "success"
    FAILURE = "failure"


class AuditEvent(SQLModel, table=True):
    """One audited action; ``leaf_hash`` covers the row, ``chain_hash`` links it to the previous."""

    __tablename__ = "audit_event"

    seq: int = Field(
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
        )
    )
    ts: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    actor_id: uuid.UUID | None = Field(default=None)
    mission_id: uuid.UUID | None = Field(default=None, index=True)
    action: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    object_type: str = Field(sa_column=Column(String(60), nullable=False))
    object_id: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    outcome: Outcome = Field(sa_column=Column(String(10), nullable=False))
    request_id: str | None = Field(default=None, sa_column=Column(String(36), nullable=True))
    source_ip: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    chain_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class AuditCheckpoint(SQLModel, table=True):
    """A signed tree head: the RFC 6962 root of the first ``tree_size`` leaves, as a C2SP note."""

    __tablename__ = "audit_checkpoint"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    tree_size: int = Field(
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), nullable=False, unique=True)
    )
    root_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    origin: str = Field(sa_column=Column(String(200), nullable=False))
    key_id: bytes = Field(sa_column=Column(LargeBinary(4), nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary(64), nullable=False))
    # The signed note exactly as exported; the fields above repeat it for queries.
    note: str = Field(sa_column=Column(Text, nullable=False))
    # The tree's right edge at this size, so the next checkpoint hashes only newer leaves.
    frontier: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# On PostgreSQL both tables refuse UPDATE, DELETE and TRUNCATE for every role, the owner included.
# SQLite has no such triggers that a writer could not drop: there the database file's permissions
# and the signed checkpoints exported outside it are the defence.
# SQLAlchemy leaves DDL untyped, and formats it with %: a literal percent sign is written %%.
APPEND_ONLY_FUNCTION = DDL(  # type: ignore[no-untyped-call]
    """
    CREATE OR REPLACE FUNCTION secops_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '%% is append-only (%% refused)', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
    """
)
APPEND_ONLY_TRIGGERS = DDL(  # type: ignore[no-untyped-call]  # SQLAlchemy leaves DDL untyped
    """
    CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event
        FOR EACH ROW EXECUTE FUNCTION secops_audit_append_only();
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
        FOR EACH STATEMENT EXECUTE FUNCTION secops_audit_append_only();
    """
)
# SQLAlchemy leaves DDL untyped.
CHECKPOINT_APPEND_ONLY_TRIGGERS = DDL(  # type: ignore[no-untyped-call]
    """
    CREATE TRIGGER audit_checkpoint_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoint
        FOR EACH ROW EXECUTE FUNCTION secops_audit_append_only();
    CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
        FOR EACH STATEMENT EXECUTE FUNCTION secops_audit_append_only();
    """
)
event.listen(
    AuditEvent.__table__,  # type: ignore[attr-defined]
    "after_create",
    APPEND_ONLY_FUNCTION.execute_if(dialect="postgresql"),
)
event.listen(
    AuditEvent.__table__,  # type: ignore[attr-defined]
    "after_create",
    APPEND_ONLY_TRIGGERS.execute_if(dialect="postgresql"),
)
event.listen(
    AuditCheckpoint.__table__,  # type: ignore[attr-defined]
    "after_create",
    APPEND_ONLY_FUNCTION.execute_if(dialect="postgresql"),
)
event.listen(
    AuditCheckpoint.__table__,  # type: ignore[attr-defined]
    "after_create",
    CHECKPOINT_APPEND_ONLY_TRIGGERS.execute_if(dialect="postgresql"),
)
