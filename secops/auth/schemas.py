"""API shapes for identity. Inputs forbid unknown fields; outputs never carry a hash or secret.

Passwords are capped at 128 characters here, so a huge one is refused (422) before any hashing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from secops.auth.models import User, UserSession, UserStatus
from secops.auth.passwords import MAX_LENGTH
from secops.auth.sessions import IssuedSession
from secops.core.principal import Everywhere, Principal

Password = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]
Code = Annotated[str, Field(min_length=1, max_length=64)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _WithCode(_Input):
    totp_code: Code | None = None
    recovery_code: Code | None = None

    @model_validator(mode="after")
    def _one_code_at_most(self) -> _WithCode:
        if self.totp_code is not None and self.recovery_code is not None:
            raise ValueError("send either totp_code or recovery_code, not both")
        return self


class LoginRequest(_WithCode):
    """Sign in: a user with TOTP also sends ``totp_code`` (or a ``recovery_code``)."""

    username: str = Field(min_length=1, max_length=256)
    password: Password


class ReauthRequest(_WithCode):
    """Step-up: prove password and code again."""

    password: Password


class PasswordChange(_Input):
    """Change one's own password."""

    current_password: Password
    new_password: Password


class RedeemRequest(_WithCode):
    """Redeem an invitation or reset token: choose a password (enrolled users add a code)."""

    token: str = Field(min_length=1, max_length=200)
    password: Password


class BootstrapRequest(_Input):
    """Create the first administrator with the code from ``secops admin bootstrap``."""

    code: Code
    username: str = Field(min_length=1, max_length=256)
    display_name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    password: Password


class TotpConfirm(_Input):
    """The current code from the authenticator app."""

    code: Code


class UserCreate(_Input):
    """A new user; they choose their password by redeeming the invitation."""

    username: str = Field(min_length=1, max_length=256)
    display_name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None


class ResetStart(_Input):
    """Start a reset: a password reset, or with ``factor`` a lost-factor reset (two admins)."""

    factor: bool = False


class SessionIssued(BaseModel):
    """A new session token (shown once); keep it secret, send it as a Bearer token."""

    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name
    session_id: uuid.UUID
    expires_at: datetime
    idle_timeout_seconds: int
    enrolment_required: bool
    user_id: uuid.UUID
    username: str

    @classmethod
    def of(cls, issued: IssuedSession, *, user: User, idle_timeout_seconds: int) -> SessionIssued:
        """The response for a freshly issued session."""
        return cls(
            token=issued.token,
            session_id=issued.record.id,
            expires_at=issued.record.expires_at,
            idle_timeout_seconds=idle_timeout_seconds,
            enrolment_required=issued.record.enrolment_only,
            user_id=user.id,
            username=user.username,
        )


class SessionRead(_Output):
    """One of your sessions."""

    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    auth_time: datetime
    source_ip: str | None
    user_agent: str | None
    current: bool = False

    @classmethod
    def of(cls, record: UserSession, *, current_id: uuid.UUID | None) -> SessionRead:
        """The view of ``record``."""
        view = cls.model_validate(record)
        return view.model_copy(update={"current": record.id == current_id})


class SessionList(BaseModel):
    """Your live sessions, newest first."""

    items: list[SessionRead]


class TotpStarted(BaseModel):
    """Add this secret to an authenticator app, then confirm with a code; shown once."""

    secret: str
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as an SVG QR code, as a data: URI.")


class RecoveryCodes(BaseModel):
    """Single-use recovery codes; shown once: store them offline."""

    recovery_codes: list[str]


class TotpConfirmed(RecoveryCodes):
    """TOTP is on; a first enrolment also returns a full session to replace the enrolment one."""

    session: SessionIssued | None = None


class RoleReach(BaseModel):
    """One role and where it applies."""

    role: str
    everywhere: bool
    missions: list[uuid.UUID]


class Me(BaseModel):
    """Who you are: your account, roles and session."""

    id: uuid.UUID
    username: str
    display_name: str
    email: str | None
    totp_enrolled: bool
    recovery_codes_remaining: int
    roles: list[RoleReach]
    session_id: uuid.UUID | None
    authenticated_at: datetime | None

    @staticmethod
    def roles_of(principal: Principal) -> list[RoleReach]:
        """The principal's roles as a list, ministry-wide ones flagged."""
        return [
            RoleReach(
                role=str(role),
                everywhere=isinstance(reach, Everywhere),
                missions=[] if isinstance(reach, Everywhere) else sorted(reach, key=str),
            )
            for role, reach in sorted(principal.roles.items())
        ]


class UserRead(_Output):
    """A user as administrators see them; no hash, secret or token."""

    id: uuid.UUID
    username: str
    display_name: str
    email: str | None
    status: UserStatus
    totp_enrolled: bool
    password_set: bool
    created_at: datetime
    disabled_at: datetime | None
    version: int

    @classmethod
    def of(cls, user: User) -> UserRead:
        """The view of ``user``."""
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            status=user.status,
            totp_enrolled=user.totp_enrolled,
            password_set=user.password_hash is not None,
            created_at=user.created_at,
            disabled_at=user.disabled_at,
            version=user.version,
        )


class UserPage(BaseModel):
    """One page of users."""

    items: list[UserRead]
    next_cursor: str | None = None


class ResetRead(BaseModel):
    """A started reset or invitation; ``token`` is shown once, to hand to the user."""

    id: uuid.UUID
    user_id: uuid.UUID
    purpose: str
    status: Literal["issued", "awaiting_approval"]
    token: str | None
    expires_at: datetime


class UserCreated(BaseModel):
    """The new user and the invitation token to hand to them."""

    user: UserRead
    invitation: ResetRead


class SessionsEnded(BaseModel):
    """How many sessions were ended."""

    sessions_ended: int
