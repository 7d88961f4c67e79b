"""API shapes for the audit trail: events and checkpoints as read, never written, by clients."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from secops.audit.models import AuditCheckpoint, AuditEvent, Outcome
from secops.audit.repository import EventFilter

Cursor = Annotated[str, StringConstraints(max_length=512)]


class EventOrder(StrEnum):
    """Which end of the trail a listing starts from."""

    NEWEST = "newest"
    OLDEST = "oldest"


class AuditEventQuery(BaseModel):
    """The query string of ``GET /audit/events``: filters, order and paging."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    object_type: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    object_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    actor: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    since: AwareDatetime | None = Field(default=None, description="Events at or after this.")
    until: AwareDatetime | None = Field(default=None, description="Events before this.")
    order: EventOrder = EventOrder.NEWEST
    cursor: Cursor | None = None
    limit: int | None = None

    def filters(self) -> EventFilter:
        """The filters alone."""
        return EventFilter(
            action=self.action,
            object_type=self.object_type,
            object_id=self.object_id,
            actor=self.actor,
            since=self.since,
            until=self.until,
        )


class CheckpointQuery(BaseModel):
    """The query string of ``GET /audit/checkpoints``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cursor: Cursor | None = None
    limit: int | None = None


class AuditEventRead(BaseModel):
    """One audited action with the hashes that chain it (details are redacted when recorded)."""

    model_config = ConfigDict(frozen=True)

    seq: int
    ts: datetime
    actor: str
    actor_id: uuid.UUID | None
    mission_id: uuid.UUID | None
    action: str
    object_type: str
    object_id: str | None
    outcome: Outcome
    request_id: str | None
    source_ip: str | None
    details: dict[str, Any]
    leaf_hash: str = Field(description="SHA-256 RFC 6962 leaf hash, hexadecimal.")
    chain_hash: str = Field(description="SHA-256 link to the previous event, hexadecimal.")

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventRead:
        """The API view of a stored event."""
        return cls(
            seq=event.seq,
            ts=event.ts,
            actor=event.actor,
            actor_id=event.actor_id,
            mission_id=event.mission_id,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            outcome=event.outcome,
            request_id=event.request_id,
            source_ip=event.source_ip,
            details=event.details,
            leaf_hash=bytes(event.leaf_hash).hex(),
            chain_hash=bytes(event.chain_hash).hex(),
        )


class AuditEventPage(BaseModel):
    """A page of events and the cursor for the next."""

    model_config = ConfigDict(frozen=True)

    items: list[AuditEventRead]
    next_cursor: str | None = None


class AuditCheckpointRead(BaseModel):
    """A signed tree head, as exported (the signing key never leaves the server)."""

    model_config = ConfigDict(frozen=True)

    tree_size: int
    root_hash: str = Field(description="RFC 6962 Merkle root, base64 as in the note.")
    origin: str
    key_id: str = Field(description="C2SP key ID of the signing key, hexadecimal.")
    signature: str = Field(description="Ed25519 signature over the note body, base64.")
    note: str = Field(description="The C2SP checkpoint as a signed note.")
    created_at: datetime

    @classmethod
    def of(cls, checkpoint: AuditCheckpoint) -> AuditCheckpointRead:
        """The API view of a stored checkpoint."""
        return cls(
            tree_size=checkpoint.tree_size,
            root_hash=base64.b64encode(checkpoint.root_hash).decode(),
            origin=checkpoint.origin,
            key_id=bytes(checkpoint.key_id).hex(),
            signature=base64.b64encode(checkpoint.signature).decode(),
            note=checkpoint.note,
            created_at=checkpoint.created_at,
        )


class AuditCheckpointPage(BaseModel):
    """A page of checkpoints, largest first, and the cursor for the next."""

    model_config = ConfigDict(frozen=True)

    items: list[AuditCheckpointRead]
    next_cursor: str | None = None
