"""Tables for grants of roles on missions, API keys and the short-lived tokens keys buy."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, LargeBinary, String
from sqlmodel import Field, SQLModel

from secops.core.db import UTCDateTime, new_id
from secops.core.principal import Role


class Grant(SQLModel, table=True):
    """A role held by a user on one mission (and its children), or on the whole ministry."""

    __tablename__ = "access_grant"
    __table_args__ = (Index("ix_access_grant_user_live", "user_id", "revoked_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    )
    role: Role = Field(sa_column=Column(String(20), nullable=False))
    # None: the grant covers the whole ministry, present and future missions.
    mission_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("mission.id"), nullable=True, index=True)
    )
    include_children: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_by: uuid.UUID = Field(nullable=False)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoked_by: uuid.UUID | None = Field(default=None)

    @property
    def is_live(self) -> bool:
        """True until the grant is revoked."""
        return self.revoked_at is None


class ApiKey(SQLModel, table=True):
    """A credential for a service or script, scoped to permissions and missions of its owner."""

    __tablename__ = "api_key"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # The short random id inside the token; the lookup key, never a secret.
    public_id: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    # SHA-256 of the token's secret part; the secret itself is shown once and never stored.
    secret_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    name: str = Field(sa_column=Column(String(100), nullable=False))
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Mission ids as strings; None: every mission its owner holds the permissions on.
    mission_ids: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoked_by: uuid.UUID | None = Field(default=None)


class ApiKeyToken(SQLModel, table=True):
    """A bearer token an API key was exchanged for, valid minutes; only its SHA-256 is stored.

    It acts exactly as its key does and only while the key does: revoking or expiring the key,
    or disabling its owner, ends every token the key was exchanged for.
    """

    __tablename__ = "api_key_token"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    key_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("api_key.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
