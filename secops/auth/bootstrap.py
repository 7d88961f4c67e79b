"""The first administrator: no default account exists; a server-local code creates one.

``secops admin bootstrap`` (on the server) prints a single-use code valid 15 minutes; only its
hash is stored and a new code voids the older ones. ``POST /auth/bootstrap`` with that code
creates the first user, grants them admin over the whole ministry and opens an enrolment-only
session: the administrator must enrol TOTP before anything else. Once any user exists, neither
step works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlmodel import Session

from secops.audit.models import Outcome
from secops.auth import repository, sessions, tokens
from secops.auth.access import service as access_service
from secops.auth.events import AuthEvent, emit
from secops.auth.models import BootstrapCode
from secops.auth.outcomes import Refused
from secops.auth.service import create_user
from secops.auth.signin import SignedIn
from secops.core.db import clock_of
from secops.core.errors import Conflict, Unauthenticated
from secops.core.principal import Role, system_principal

CODE_TTL: Final = timedelta(minutes=15)
_BAD_CODE: Final = "The bootstrap code is not valid, was used already or has expired."
_HAS_USERS: Final = "secops already has users; bootstrap is only for a fresh installation."


@dataclass(frozen=True, slots=True)
class BootstrapTicket:
    """The code to type (shown once) and when it stops working."""

    code: str
    expires_at: datetime


def issue_code(session: Session) -> BootstrapTicket:
    """A new single-use code for the first administrator; older unused codes stop working."""
    if repository.count_users(session) > 0:
        raise Conflict(_HAS_USERS)
    now = clock_of(session).now()
    for old in repository.open_bootstrap_codes(session):
        session.delete(old)
    code = tokens.new_code()
    normalised = tokens.normalise_code(code)
    assert normalised is not None  # noqa: S101 - new_code always yields a well-formed code
    record = BootstrapCode(
        code_hash=tokens.digest(normalised), created_at=now, expires_at=now + CODE_TTL
    )
    session.add(record)
    session.flush()
    emit(
        session,
        AuthEvent.BOOTSTRAP_CODE_ISSUED,
        principal=system_principal("bootstrap"),
        details={"code_id": str(record.id), "expires_at": record.expires_at.isoformat()},
    )
    return BootstrapTicket(code=code, expires_at=record.expires_at)


def _refuse(session: Session, reason: str) -> Refused:
    emit(
        session,
        AuthEvent.BOOTSTRAP_FAIL,
        principal=None,
        outcome=Outcome.FAILURE,
        details={"reason": reason},
    )
    return Refused(Unauthenticated(_BAD_CODE))


def complete(
    session: Session,
    *,
    code: str,
    username: str,
    display_name: str,
    email: str | None,
    password: str,
) -> SignedIn | Refused:
    """Create the first administrator with the bootstrap code and start their enrolment."""
    now = clock_of(session).now()
    code_hash = tokens.code_digest(code)
    record = repository.bootstrap_code_by_hash(session, code_hash) if code_hash else None
    if record is None or record.used_at is not None or now >= record.expires_at:
        return _refuse(session, "unusable_code")
    if repository.count_users(session) > 0:
        return Refused(Conflict(_HAS_USERS))
    # Claimed first: a refusal below raises, and the rollback un-claims it with the user.
    if not repository.claim_bootstrap_code(session, code_id=record.id, at=now):
        return _refuse(session, "code_raced")
    system = system_principal("bootstrap")
    user = create_user(
        session,
        principal=system,
        username=username,
        display_name=display_name,
        email=email,
        password=password,
    )
    access_service.grant_role(
        session,
        principal=system,
        user_id=user.id,
        role=Role.ADMIN,
        mission_id=None,
        include_children=False,
    )
    issued = sessions.open_session(session, user=user, enrolment_only=True)
    emit(session, AuthEvent.BOOTSTRAP_COMPLETED, principal=system, user_id=user.id)
    return SignedIn(issued=issued, user=user)
