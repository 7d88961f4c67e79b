"""Delivering the outbox through an SMTP relay (a fake ``smtplib.SMTP``): TLS, retries, failures."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Collection, Iterator, Mapping
from datetime import timedelta
from email.message import EmailMessage
from typing import Any, ClassVar

import pytest
from sqlmodel import Session
from structlog.testing import capture_logs

from secops.core import mail, outbox
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory, create_db_engine
from secops.core.outbox import OutboxMessage, OutboxStatus

RELAY = mail.Relay(host="relay.mfa.example", port=587, starttls=True, sender="secops@mfa.example")
ALICE = uuid.UUID("00000000-0000-4000-8000-00000000a11c")
BOB = uuid.UUID("00000000-0000-4000-8000-000000000b0b")
NOBODY = uuid.UUID("00000000-0000-4000-8000-000000000000")
ADDRESSES = {ALICE: "alice@mfa.example", BOB: "bob@mfa.example"}


class FakeSMTP:
    """Stands in for ``smtplib.SMTP``; class attributes script the relay's behaviour."""

    instances: ClassVar[list[FakeSMTP]] = []
    refuse_connection: ClassVar[bool] = False
    offers_starttls: ClassVar[bool] = True
    refuse: ClassVar[dict[str, int]] = {}  # recipient -> SMTP reply code

    def __init__(self, host: str, port: int, timeout: float) -> None:
        if self.refuse_connection:
            raise ConnectionRefusedError(111, "Connection refused")
        self.host, self.port, self.timeout = host, port, timeout
        self.calls: list[str] = []
        self.tls_context: ssl.SSLContext | None = None
        self.sent: list[EmailMessage] = []
        FakeSMTP.instances.append(self)

    def ehlo(self) -> None:
        self.calls.append("ehlo")

    def starttls(self, *, context: ssl.SSLContext) -> None:
        if not self.offers_starttls:
            raise smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server.")
        self.calls.append("starttls")
        self.tls_context = context

    def send_message(self, message: EmailMessage) -> None:
        code = self.refuse.get(str(message["To"]))
        if code is not None:
            raise smtplib.SMTPRecipientsRefused({str(message["To"]): (code, b"refused")})
        self.calls.append("send")
        self.sent.append(message)

    def quit(self) -> None:
        self.calls.append("quit")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> type[FakeSMTP]:
    """The fake relay, reset for each test."""
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    FakeSMTP.instances = []
    FakeSMTP.refuse_connection = False
    FakeSMTP.offers_starttls = True
    FakeSMTP.refuse = {}
    return FakeSMTP


@pytest.fixture
def sessions(database_url: str, settings: Settings, clock: FrozenClock) -> Iterator[SessionFactory]:
    """Sessions on a fresh database with the frozen clock."""
    engine = create_db_engine(database_url)
    yield SessionFactory(engine, clock=clock, settings=settings)
    engine.dispose()


def lookup(_session: Session, user_ids: Collection[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    """Addresses of the test recipients (the worker looks them up in the user table)."""
    return {user_id: ADDRESSES[user_id] for user_id in user_ids if user_id in ADDRESSES}


def queue(
    sessions: SessionFactory,
    recipient: uuid.UUID | None = ALICE,
    subject: str = "secops: a waiver expires soon",
    body: str = "Waiver W-1 on MFA.ENABLED.1v1 expires in 7 days.",
) -> uuid.UUID:
    with sessions.begin() as session:
        return outbox.enqueue(
            session, kind="waiver.expiring", recipient_user_id=recipient, subject=subject, body=body
        ).id


def row(sessions: SessionFactory, message_id: uuid.UUID) -> OutboxMessage:
    with sessions.begin() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message


def deliver(sessions: SessionFactory, relay: mail.Relay | None = RELAY) -> mail.DeliveryReport:
    return mail.deliver_pending(sessions, relay=relay, addresses=lookup)


def test_message_is_sent_over_starttls_and_marked_sent(
    sessions: SessionFactory, smtp: type[FakeSMTP], clock: FrozenClock
) -> None:
    message_id = queue(sessions)

    report = deliver(sessions)

    [client] = smtp.instances
    [sent] = client.sent
    assert (client.host, client.port, client.timeout) == ("relay.mfa.example", 587, 30.0)
    assert client.calls == ["ehlo", "starttls", "ehlo", "send", "quit"]
    assert client.tls_context is not None
    assert client.tls_context.verify_mode == ssl.CERT_REQUIRED
    assert client.tls_context.check_hostname
    assert sent["From"] == "secops@mfa.example"
    assert sent["To"] == "alice@mfa.example"
    assert sent["Subject"] == "secops: a waiver expires soon"
    assert sent["Message-ID"] == f"<{message_id}@mfa.example>"
    assert sent["Auto-Submitted"] == "auto-generated"
    assert sent.get_content().strip() == "Waiver W-1 on MFA.ENABLED.1v1 expires in 7 days."
    stored = row(sessions, message_id)
    assert stored.status == OutboxStatus.SENT
    assert stored.sent_at == clock.now()
    assert stored.attempts == 1
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)


def test_without_a_relay_messages_stay_pending(
    sessions: SessionFactory, smtp: type[FakeSMTP]
) -> None:
    message_id = queue(sessions)

    report = deliver(sessions, relay=None)

    assert smtp.instances == []
    assert report.attempted == 0
    assert row(sessions, message_id).status == OutboxStatus.PENDING
    assert row(sessions, message_id).attempts == 0


def test_starttls_is_skipped_only_when_turned_off(
    sessions: SessionFactory, smtp: type[FakeSMTP]
) -> None:
    queue(sessions)

    deliver(sessions, relay=mail.Relay("relay", 25, starttls=False, sender="secops@mfa.example"))

    assert smtp.instances[0].calls == ["ehlo", "send", "quit"]


def test_relay_without_starttls_is_never_used_in_clear(
    sessions: SessionFactory, smtp: type[FakeSMTP], clock: FrozenClock
) -> None:
    smtp.offers_starttls = False
    message_id = queue(sessions)

    report = deliver(sessions)

    stored = row(sessions, message_id)
    assert "send" not in smtp.instances[0].calls
    assert "close" in smtp.instances[0].calls
    assert stored.status == OutboxStatus.PENDING
    assert stored.last_error is not None
    assert "SMTPNotSupportedError" in stored.last_error
    assert stored.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert report.retrying == 1


def test_unreachable_relay_is_retried_with_backoff(
    sessions: SessionFactory, smtp: type[FakeSMTP], clock: FrozenClock
) -> None:
    smtp.refuse_connection = True
    message_id = queue(sessions)
    deliver(sessions)
    first = row(sessions, message_id)

    clock.advance(seconds=59)
    too_early = deliver(sessions)
    second_at = clock.advance(seconds=1)
    deliver(sessions)
    second = row(sessions, message_id)
    smtp.refuse_connection = False
    clock.advance(minutes=2)
    deliver(sessions)

    assert first.attempts == 1
    assert first.last_error is not None
    assert "Connection refused" in first.last_error
    assert too_early.attempted == 0
    assert second.attempts == 2
    assert second.next_attempt_at == second_at + timedelta(minutes=2)
    assert row(sessions, message_id).status == OutboxStatus.SENT
    assert row(sessions, message_id).attempts == 3


def test_message_fails_for_good_after_its_last_attempt(
    sessions: SessionFactory, smtp: type[FakeSMTP], clock: FrozenClock
) -> None:
    smtp.refuse_connection = True
    message_id = queue(sessions)

    for _ in range(outbox.DELIVERY_MAX_ATTEMPTS + 2):
        deliver(sessions)
        clock.advance(hours=6)

    stored = row(sessions, message_id)
    assert stored.status == OutboxStatus.FAILED
    assert stored.attempts == outbox.DELIVERY_MAX_ATTEMPTS
    assert stored.last_error is not None


def test_permanent_refusal_fails_the_message_at_once(
    sessions: SessionFactory, smtp: type[FakeSMTP]
) -> None:
    smtp.refuse = {"alice@mfa.example": 550}
    message_id = queue(sessions)

    report = deliver(sessions)

    stored = row(sessions, message_id)
    assert stored.status == OutboxStatus.FAILED
    assert stored.last_error is not None
    assert "550" in stored.last_error
    assert report.failed == 1


def test_temporary_refusal_is_retried(sessions: SessionFactory, smtp: type[FakeSMTP]) -> None:
    smtp.refuse = {"alice@mfa.example": 451}
    message_id = queue(sessions)

    deliver(sessions)

    assert row(sessions, message_id).status == OutboxStatus.PENDING
    assert row(sessions, message_id).attempts == 1


def test_one_failing_message_does_not_stop_the_others(
    sessions: SessionFactory, smtp: type[FakeSMTP]
) -> None:
    smtp.refuse = {"alice@mfa.example": 550}
    to_alice = queue(sessions, ALICE)
    to_bob = queue(sessions, BOB)

    report = deliver(sessions)

    assert row(sessions, to_alice).status == OutboxStatus.FAILED
    assert row(sessions, to_bob).status == OutboxStatus.SENT
    assert [m["To"] for m in smtp.instances[0].sent] == ["bob@mfa.example"]
    assert (report.sent, report.failed) == (1, 1)


def test_message_without_a_deliverable_address_fails_without_contacting_the_relay(
    sessions: SessionFactory, smtp: type[FakeSMTP]
) -> None:
    unknown = queue(sessions, NOBODY)
    no_recipient = queue(sessions, None)

    report = deliver(sessions)

    assert smtp.instances == []
    for message_id in (unknown, no_recipient):
        stored = row(sessions, message_id)
        assert stored.status == OutboxStatus.FAILED
        assert stored.last_error == mail.NO_ADDRESS
    assert report.failed == 2


def test_header_injection_in_a_subject_is_refused(
    sessions: SessionFactory, smtp: type[FakeSMTP]
) -> None:
    message_id = queue(sessions, subject="Expiring\r\nBcc: attacker@evil.example")

    deliver(sessions)

    assert smtp.instances[0].sent == []
    assert row(sessions, message_id).status == OutboxStatus.FAILED


def test_a_message_taken_by_another_deliverer_is_not_sent_twice(
    sessions: SessionFactory, smtp: type[FakeSMTP], clock: FrozenClock
) -> None:
    message_id = queue(sessions)
    with sessions.begin() as session:
        [taken] = outbox.claim_due(session, now=clock.now(), limit=10, hold=mail.HOLD)

    while_held = deliver(sessions)
    clock.advance(mail.HOLD)  # the other deliverer died without recording anything
    after_hold = deliver(sessions)

    assert taken.id == message_id
    assert while_held.attempted == 0
    assert after_hold.sent == 1
    assert row(sessions, message_id).status == OutboxStatus.SENT


def test_many_messages_go_out_in_batches_over_one_connection_each(
    sessions: SessionFactory, smtp: type[FakeSMTP]
) -> None:
    for _ in range(5):
        queue(sessions)

    report = mail.deliver_pending(sessions, relay=RELAY, addresses=lookup, batch_size=2)

    assert report.sent == 5
    assert [len(client.sent) for client in smtp.instances] == [2, 2, 1]


def test_delivery_logs_name_the_message_not_its_address_or_body(
    sessions: SessionFactory, smtp: type[FakeSMTP]
) -> None:
    smtp.refuse = {"bob@mfa.example": 451}
    queue(sessions, ALICE)
    queue(sessions, BOB)

    with capture_logs() as logs:
        deliver(sessions)

    events = {entry["event"] for entry in logs}
    assert events == {"mail.sent", "mail.delivery_failed"}
    text = repr(logs)
    assert "@mfa.example" not in text
    assert "expires in 7 days" not in text


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, None),
        (
            {"smtp_host": "relay.mfa.example", "smtp_port": 2525, "smtp_starttls": False},
            mail.Relay("relay.mfa.example", 2525, False, "secops@localhost"),
        ),
    ],
)
def test_relay_comes_from_settings(
    settings: Settings, values: dict[str, Any], expected: mail.Relay | None
) -> None:
    configured = Settings(**{**dict(settings), **values})

    assert mail.Relay.from_settings(configured) == expected
