"""Outbound mail: delivers queued outbox messages through the ministry's SMTP relay.

No transaction stays open while the relay is talked to: due messages are taken (and held back
from other deliverers) in one short transaction, sent, and each outcome is recorded in its own
short transaction. A crash between sending and recording can send a message twice, never lose
one; the ``Message-ID`` is derived from the outbox row so receiving systems can tell.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final

from sqlmodel import Session

from secops.core import outbox
from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.logging import get_logger, scrub_text

log = get_logger("secops.mail")

SMTP_TIMEOUT_SECONDS: Final = 30.0
BATCH_SIZE: Final = 50
# Batches per delivery run: bounds how long one run keeps a worker busy.
MAX_BATCHES: Final = 20
# How long taken messages are held back from other deliverers (longer than a batch can take).
HOLD: Final = timedelta(minutes=30)
NO_ADDRESS: Final = (
    "The recipient has no deliverable e-mail address (none recorded, or the user is disabled)."
)

AddressLookup = Callable[[Session, Collection[uuid.UUID]], Mapping[uuid.UUID, str]]
"""Returns the e-mail address of each user id that has a deliverable one."""


@dataclass(frozen=True)
class Relay:
    """Where and how mail is handed over: the ministry's SMTP relay."""

    host: str
    port: int
    starttls: bool
    sender: str
    timeout: float = SMTP_TIMEOUT_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> Relay | None:
        """The configured relay, or None when ``SECOPS_SMTP_HOST`` is unset."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            sender=settings.smtp_from,
        )


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        """Messages handed to the relay or given up on in this run."""
        return self.sent + self.retrying + self.failed


@dataclass(frozen=True)
class _Outgoing:
    id: uuid.UUID
    kind: str
    address: str | None
    subject: str
    body: str


def compose(
    *, message_id: uuid.UUID, sender: str, to: str, subject: str, body: str, now: datetime
) -> EmailMessage:
    """The e-mail for one outbox message; header values with line breaks are refused."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(now)
    domain = sender.rpartition("@")[2] or "localhost"
    mail["Message-ID"] = f"<{message_id}@{domain}>"
    # RFC 3834: an automatic message; well-behaved responders do not answer it.
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(body)
    return mail


def connect(relay: Relay) -> smtplib.SMTP:
    """Open a session with the relay; with STARTTLS configured, never continue in clear."""
    client = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
    try:
        client.ehlo()
        if relay.starttls:
            # Raises SMTPNotSupportedError when the relay offers no STARTTLS: fail closed.
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
    except BaseException:
        client.close()
        raise
    return client


def describe(exc: BaseException) -> str:
    """A one-line account of a delivery error, fit for storage and logs (no addresses)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = sorted(
            {f"{code} {reply.decode(errors='replace')}" for code, reply in exc.recipients.values()}
        )
        text = f"{type(exc).__name__}: {'; '.join(replies)}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return scrub_text(" ".join(text.split()))[:500]


def _is_permanent(exc: BaseException) -> bool:
    # 5xx refusals of every recipient will not change on retry; header errors neither.
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, ValueError)


def deliver_pending(
    sessions: SessionFactory,
    *,
    relay: Relay | None,
    addresses: AddressLookup,
    batch_size: int = BATCH_SIZE,
) -> DeliveryReport:
    """Send due outbox messages through ``relay``; with no relay they stay pending.

    A failed attempt is retried with back-off on the message row (see
    ``secops.core.outbox.mark_failed``); a message with no deliverable address fails at once.
    """
    report = DeliveryReport()
    if relay is None:
        return report
    for _ in range(MAX_BATCHES):
        batch = _take(sessions, addresses, batch_size)
        if not batch:
            break
        _send_batch(sessions, relay, batch, report)
        if len(batch) < batch_size:
            break
    return report


def _take(sessions: SessionFactory, addresses: AddressLookup, batch_size: int) -> list[_Outgoing]:
    with sessions.begin() as session:
        now = sessions.clock.now()
        messages = outbox.claim_due(session, now=now, limit=batch_size, hold=HOLD)
        recipients = {m.recipient_user_id for m in messages if m.recipient_user_id is not None}
        found = addresses(session, recipients) if recipients else {}
        return [
            _Outgoing(
                id=m.id,
                kind=m.kind,
                address=found.get(m.recipient_user_id) if m.recipient_user_id else None,
                subject=m.subject,
                body=m.body,
            )
            for m in messages
        ]


def _send_batch(
    sessions: SessionFactory, relay: Relay, batch: list[_Outgoing], report: DeliveryReport
) -> None:
    addressed: list[tuple[_Outgoing, str]] = []
    for item in batch:
        if item.address is None:
            _record_failure(sessions, item, NO_ADDRESS, permanent=True, report=report)
        else:
            addressed.append((item, item.address))
    if not addressed:
        return
    try:
        client = connect(relay)
    except (OSError, smtplib.SMTPException) as exc:
        for item, _ in addressed:
            _record_failure(sessions, item, describe(exc), permanent=False, report=report)
        return
    try:
        for item, address in addressed:
            _send_one(sessions, relay, client, item, address, report)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def _send_one(
    sessions: SessionFactory,
    relay: Relay,
    client: smtplib.SMTP,
    item: _Outgoing,
    address: str,
    report: DeliveryReport,
) -> None:
    try:
        mail = compose(
            message_id=item.id,
            sender=relay.sender,
            to=address,
            subject=item.subject,
            body=item.body,
            now=sessions.clock.now(),
        )
        client.send_message(mail)
    except (OSError, ValueError, smtplib.SMTPException) as exc:
        _record_failure(sessions, item, describe(exc), permanent=_is_permanent(exc), report=report)
        return
    with sessions.begin() as session:
        outbox.mark_sent(session, item.id, now=sessions.clock.now())
    report.sent += 1
    log.info("mail.sent", message_id=str(item.id), kind=item.kind)


def _record_failure(
    sessions: SessionFactory,
    item: _Outgoing,
    error: str,
    *,
    permanent: bool,
    report: DeliveryReport,
) -> None:
    with sessions.begin() as session:
        message = outbox.mark_failed(
            session, item.id, now=sessions.clock.now(), error=error, permanent=permanent
        )
        final = message is not None and message.status == outbox.OutboxStatus.FAILED
    if final:
        report.failed += 1
    else:
        report.retrying += 1
    log.warning(
        "mail.delivery_failed", message_id=str(item.id), kind=item.kind, error=error, final=final
    )
