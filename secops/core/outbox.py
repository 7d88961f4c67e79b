"""The notification outbox: messages written in the business transaction, delivered by the worker.

A row is queued in the same transaction as the change it reports, so a notification exists if and
only if the change committed. Bodies carry no secret: they say what happened, when and from where.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, String, Text
from sqlmodel import Field, Session, SQLModel, col, select

from secops.core.db import UTCDateTime, clock_of, new_id


class OutboxStatus(StrEnum):
    """Where a message is in its delivery."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(SQLModel, table=True):
    """One notification waiting for (or done with) delivery."""

    __tablename__ = "outbox_message"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    kind: str = Field(sa_column=Column(String(60), nullable=False, index=True))
    recipient_user_id: uuid.UUID | None = Field(default=None, index=True)
    subject: str = Field(sa_column=Column(String(200), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: OutboxStatus = Field(
        default=OutboxStatus.PENDING, sa_column=Column(String(10), nullable=False, index=True)
    )
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(String(500)))


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient_user_id: uuid.UUID | None,
    subject: str,
    body: str,
) -> OutboxMessage:
    """Queue a notification in the caller's transaction."""
    now = clock_of(session).now()
    message = OutboxMessage(
        created_at=now,
        kind=kind,
        recipient_user_id=recipient_user_id,
        subject=subject[:200],
        body=body,
        next_attempt_at=now,
    )
    session.add(message)
    session.flush()
    return message


def recently_queued(
    session: Session, *, kind: str, recipient_user_id: uuid.UUID, within: timedelta
) -> bool:
    """True if the same kind of message went to the same user within ``within`` (no floods)."""
    since = clock_of(session).now() - within
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.kind == kind)
        .where(OutboxMessage.recipient_user_id == recipient_user_id)
        .where(col(OutboxMessage.created_at) >= since)
        .limit(1)
    )
    return session.exec(query).first() is not None
