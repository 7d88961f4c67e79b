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


# Delivery (the worker's ``outbox.deliver`` job, see ``secops.core.mail``): a failed attempt
# waits 1 min, 2 min, 4 min, ... at most 6 h; after ``DELIVERY_MAX_ATTEMPTS`` the message is
# marked failed with its last error.
DELIVERY_MAX_ATTEMPTS = 8
DELIVERY_RETRY_BASE = timedelta(minutes=1)
DELIVERY_RETRY_MAX = timedelta(hours=6)


def delivery_retry_delay(attempts: int) -> timedelta:
    """How long a message waits after its ``attempts``-th failed delivery."""
    exponent = min(max(attempts - 1, 0), 20)
    delay: timedelta = DELIVERY_RETRY_BASE * 2**exponent
    return min(delay, DELIVERY_RETRY_MAX)


def claim_due(
    session: Session, *, now: datetime, limit: int, hold: timedelta
) -> list[OutboxMessage]:
    """Up to ``limit`` pending messages due for delivery, oldest first, held back for ``hold``.

    The rows are read ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite's write lock serialises)
    and their next attempt moves to ``now + hold``: once the caller commits, another deliverer
    skips them while this one talks to the relay. A deliverer that dies leaves them due again
    after ``hold``.
    """
    due = (col(OutboxMessage.next_attempt_at) <= now) | (
        col(OutboxMessage.next_attempt_at).is_(None)
    )
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING)
        .where(due)
        .order_by(col(OutboxMessage.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    messages = list(session.exec(query).all())
    for message in messages:
        message.next_attempt_at = now + hold
    session.flush()
    return messages


def _pending(session: Session, message_id: uuid.UUID) -> OutboxMessage | None:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .where(OutboxMessage.status == OutboxStatus.PENDING)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(query).first()


def mark_sent(session: Session, message_id: uuid.UUID, *, now: datetime) -> bool:
    """Record a delivered message; False when it was no longer pending."""
    message = _pending(session, message_id)
    if message is None:
        return False
    message.status = OutboxStatus.SENT
    message.attempts += 1
    message.sent_at = now
    message.next_attempt_at = None
    session.flush()
    return True


def mark_failed(
    session: Session, message_id: uuid.UUID, *, now: datetime, error: str, permanent: bool = False
) -> OutboxMessage | None:
    """Record a failed delivery: retried after :func:`delivery_retry_delay`, or failed for good
    when ``permanent`` or the attempts are used up. None when it was no longer pending."""
    message = _pending(session, message_id)
    if message is None:
        return None
    message.attempts += 1
    message.last_error = error[:500]
    if permanent or message.attempts >= DELIVERY_MAX_ATTEMPTS:
        message.status = OutboxStatus.FAILED
        message.next_attempt_at = None
    else:
        message.next_attempt_at = now + delivery_retry_delay(message.attempts)
    session.flush()
    return message
