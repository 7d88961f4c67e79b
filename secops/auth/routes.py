"""HTTP routes for identity: sign-in, sessions, TOTP enrolment, password change, bootstrap.

Refusals that must leave a trace (failed sign-ins, back-off counts) come back from the services
as ``Refused``; ``settle`` commits their audit rows, then raises the problem.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status
from sqlmodel import Session

from secops.auth import bootstrap, enrolment, resets, service, sessions, signin
from secops.auth.deps import CurrentPerson, EnrollingUser
from secops.auth.outcomes import settle
from secops.auth.schemas import (
    BootstrapRequest,
    LoginRequest,
    Me,
    PasswordChange,
    ReauthRequest,
    RecoveryCodes,
    RedeemRequest,
    SessionIssued,
    SessionList,
    SessionRead,
    TotpConfirm,
    TotpConfirmed,
    TotpStarted,
)
from secops.auth.user_routes import router as users_router
from secops.core.db import DbSession
from secops.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    SecopsError,
    StepUpRequired,
    TooManyRequests,
    Unauthenticated,
    ValidationFailed,
)

auth = APIRouter(prefix="/auth", tags=["auth"])


def problems(*errors: type[SecopsError]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry: 401 and 422 always, plus ``errors``."""
    merged: dict[int | str, dict[str, Any]] = {}
    chosen: tuple[type[SecopsError], ...] = (Unauthenticated, ValidationFailed, *errors)
    for error in chosen:
        merged.update(error.schema())
    return merged


def issued_view(session: Session, signed: signin.SignedIn) -> SessionIssued:
    """The response body for a new session."""
    idle = sessions.settings_of(session).session_idle_timeout_seconds
    return SessionIssued.of(signed.issued, user=signed.user, idle_timeout_seconds=idle)


@auth.post("/login", responses=problems(TooManyRequests))
def login(body: LoginRequest, session: DbSession) -> SessionIssued:
    """Sign in. Without TOTP yet, the session reaches only the enrolment routes."""
    outcome = signin.sign_in(
        session,
        username=body.username,
        password=body.password,
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
    )
    return issued_view(session, settle(session, outcome))


@auth.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problems())
def logout(session: DbSession, principal: EnrollingUser) -> None:
    """End this session now."""
    sessions.end_current(session, principal=principal)


@auth.post("/reauth", responses=problems(TooManyRequests, Forbidden))
def reauth(body: ReauthRequest, session: DbSession, principal: CurrentPerson) -> SessionIssued:
    """Prove password and code again; returns a new token and ends the old one."""
    outcome = signin.reauthenticate(
        session,
        principal=principal,
        password=body.password,
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
    )
    return issued_view(session, settle(session, outcome))


@auth.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(Forbidden, TooManyRequests),
)
def change_password(body: PasswordChange, session: DbSession, principal: CurrentPerson) -> None:
    """Change your password (the current one is required); your other sessions end."""
    outcome = signin.change_password(
        session,
        principal=principal,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    settle(session, outcome)


@auth.get("/me", responses=problems(Forbidden))
def me(session: DbSession, principal: CurrentPerson) -> Me:
    """Who you are: account, roles per mission, and this session."""
    user = service.get_own_user(session, principal=principal)
    return Me(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        totp_enrolled=user.totp_enrolled,
        recovery_codes_remaining=service.recovery_codes_left(session, user_id=user.id),
        roles=Me.roles_of(principal),
        session_id=principal.session_id,
        authenticated_at=principal.authenticated_at,
    )


@auth.get("/sessions", responses=problems(Forbidden))
def list_sessions(session: DbSession, principal: CurrentPerson) -> SessionList:
    """Your live sessions, newest first."""
    records = sessions.live_sessions(session, user_id=principal.id)
    return SessionList(items=[SessionRead.of(r, current_id=principal.session_id) for r in records])


@auth.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(Forbidden, NotFound),
)
def end_session(session_id: uuid.UUID, session: DbSession, principal: CurrentPerson) -> None:
    """End one of your sessions."""
    sessions.end_own_session(session, principal=principal, session_id=session_id)


@auth.post("/totp/start", responses=problems(Forbidden, StepUpRequired))
def start_totp(session: DbSession, principal: EnrollingUser) -> TotpStarted:
    """A new TOTP secret, its otpauth URI and QR code; confirm it with a code."""
    started = enrolment.start(session, principal=principal)
    return TotpStarted(
        secret=started.secret, otpauth_uri=started.otpauth_uri, qr_svg=started.qr_svg
    )


@auth.post("/totp/confirm", responses=problems(Forbidden, Conflict, TooManyRequests))
def confirm_totp(body: TotpConfirm, session: DbSession, principal: EnrollingUser) -> TotpConfirmed:
    """Turn TOTP on with one valid code; returns recovery codes (once) and a full session."""
    done = settle(session, enrolment.confirm(session, principal=principal, code=body.code))
    user = service.get_own_user(session, principal=principal)
    issued = None
    if done.issued is not None:
        signed = signin.SignedIn(issued=done.issued, user=user)
        issued = issued_view(session, signed)
    return TotpConfirmed(recovery_codes=done.recovery_codes, session=issued)


@auth.post("/recovery-codes", responses=problems(Forbidden, Conflict, StepUpRequired))
def regenerate_recovery_codes(session: DbSession, principal: CurrentPerson) -> RecoveryCodes:
    """A new set of ten recovery codes; the old set stops working. Needs a recent sign-in."""
    codes = enrolment.regenerate_recovery_codes(session, principal=principal)
    return RecoveryCodes(recovery_codes=codes)


@auth.post("/redeem", responses=problems(TooManyRequests))
def redeem(body: RedeemRequest, session: DbSession) -> SessionIssued:
    """Redeem an invitation or reset token: choose your password (and prove TOTP if enrolled)."""
    outcome = resets.redeem(
        session,
        token=body.token,
        password=body.password,
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
    )
    return issued_view(session, settle(session, outcome))


@auth.post("/bootstrap", status_code=status.HTTP_201_CREATED, responses=problems(Conflict))
def complete_bootstrap(body: BootstrapRequest, session: DbSession) -> SessionIssued:
    """Create the first administrator with the server-local bootstrap code."""
    outcome = bootstrap.complete(
        session,
        code=body.code,
        username=body.username,
        display_name=body.display_name,
        email=body.email,
        password=body.password,
    )
    return issued_view(session, settle(session, outcome))


# The application adds these one route at a time (``core.routing``), in this order.
routers = (auth, users_router)
