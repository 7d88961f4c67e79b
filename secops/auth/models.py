"""Tables for identity: users, their sessions, recovery codes, one-time tokens and throttles."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from secops.core.crypto import register_encrypted_column
from secops.core.db import UTCDateTime, new_id


class UserStatus(StrEnum):
    """Whether a user may sign in."""

    ACTIVE = "active"
    DISABLED = "disabled"


class User(SQLModel, table=True):
    """A person who signs in to secops; the TOTP secret is stored only encrypted."""

    __tablename__ = "user"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    username: str = Field(sa_column=Column(String(64), nullable=False))
    # NFKC + casefold of the username: what uniqueness and sign-in compare.
    username_key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    password_hash: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    status: UserStatus = Field(
        default=UserStatus.ACTIVE, sa_column=Column(String(16), nullable=False)
    )
    totp_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    totp_pending_secret: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary, nullable=True)
    )
    totp_confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # The last TOTP time step accepted: each step is usable once.
    last_totp_timecode: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )
    password_changed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    disabled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))

    @property
    def totp_enrolled(self) -> bool:
        """True once a TOTP secret has been confirmed with a valid code."""
        return self.totp_secret is not None

    def snapshot(self) -> dict[str, object]:
        """The non-secret fields an audit diff compares."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "email": self.email,
            "status": str(self.status),
            "totp_enrolled": self.totp_enrolled,
        }


def _user_fk() -> Column[uuid.UUID]:
    return Column(ForeignKey("user.id"), nullable=False, index=True)


class SessionEndReason(StrEnum):
    """Why a session stopped working."""

    LOGOUT = "logout"
    REVOKED = "revoked"
    IDLE = "idle"
    ABSOLUTE = "absolute"
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - a reason
    DISABLED = "disabled"
    REAUTH = "reauth"
    ENROLLED = "enrolled"
    RESET = "reset"


class UserSession(SQLModel, table=True):
    """A signed-in session; only the SHA-256 of its token is stored."""

    __tablename__ = "user_session"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(sa_column=_user_fk())
    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    # A session opened by password alone for a user without TOTP: enrolment routes only.
    enrolment_only: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    auth_time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    end_reason: SessionEndReason | None = Field(
        default=None, sa_column=Column(String(20), nullable=True)
    )
    source_ip: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    user_agent: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


class RecoveryCode(SQLModel, table=True):
    """One single-use recovery code, stored as SHA-256 of its 128 random bits."""

    __tablename__ = "recovery_code"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(sa_column=_user_fk())
    code_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class TokenPurpose(StrEnum):
    """What a one-time account token lets its holder do."""

    INVITATION = "invitation"  # set the first password, then enrol TOTP
    PASSWORD_RESET = "password_reset"  # noqa: S105 - set a new password; TOTP still required
    FACTOR_RESET = "factor_reset"  # lost factor: new password and new TOTP; two admins


class AccountToken(SQLModel, table=True):
    """An admin-issued, single-use, expiring token; the user redeems it to set their password."""

    __tablename__ = "account_token"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(sa_column=_user_fk())
    purpose: TokenPurpose = Field(sa_column=Column(String(20), nullable=False))
    # Empty until a second administrator approves a factor reset.
    token_hash: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary(32), nullable=True, unique=True)
    )
    issued_by: uuid.UUID = Field(nullable=False)
    approved_by: uuid.UUID | None = Field(default=None)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    approved_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    voided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class BootstrapCode(SQLModel, table=True):
    """The single-use code that creates the first administrator; only its hash is stored."""

    __tablename__ = "bootstrap_code"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    code_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class SignInThrottle(SQLModel, table=True):
    """Consecutive failures per sign-in name, for back-off shared by every API process.

    Keyed by SHA-256 of the normalised username, so unknown names are throttled exactly like
    real ones (no enumeration through 429s) and nothing typed into the name field is stored.
    """

    __tablename__ = "sign_in_throttle"

    key_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    failures: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    last_failure_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# The TOTP secrets are AES-GCM ciphertexts bound to their row; key rotation walks these columns.
register_encrypted_column("user", "totp_secret")
register_encrypted_column("user", "totp_pending_secret")
