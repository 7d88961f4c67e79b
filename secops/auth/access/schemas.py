"""API shapes for grants and API keys; read shapes never carry a secret or its hash."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from secops.auth.access.models import ApiKey, Grant
from secops.core.principal import Permission, Role

KeyName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


class GrantCreate(BaseModel):
    """Give a user a role on one mission (its children too, if asked) or on the whole ministry."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    mission_id: uuid.UUID | None = Field(
        default=None, description="The mission; null grants the role on the whole ministry."
    )
    include_children: bool = Field(
        default=False, description="Also cover the mission's sub-missions, present and future."
    )


class GrantRead(BaseModel):
    """A grant as the API shows it."""

    id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    mission_id: uuid.UUID | None
    include_children: bool
    created_by: uuid.UUID
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: uuid.UUID | None

    @classmethod
    def of(cls, grant: Grant) -> GrantRead:
        """The read shape of a stored grant."""
        return cls(
            id=grant.id,
            user_id=grant.user_id,
            role=Role(grant.role),
            mission_id=grant.mission_id,
            include_children=grant.include_children,
            created_by=grant.created_by,
            created_at=grant.created_at,
            revoked_at=grant.revoked_at,
            revoked_by=grant.revoked_by,
        )


class GrantList(BaseModel):
    """A user's grants on the missions the caller administers."""

    items: list[GrantRead]


class ApiKeyCreate(BaseModel):
    """A new key: what it may do, where, and for how long."""

    model_config = ConfigDict(extra="forbid")

    name: KeyName
    permissions: list[Permission] = Field(min_length=1, max_length=len(Permission))
    missions: list[uuid.UUID] | None = Field(
        default=None,
        max_length=200,
        description="Mission ids; null lets the key act wherever its owner holds the permissions.",
    )
    days: int = Field(default=90, ge=1, le=90, description="Days until the key expires.")

    @field_validator("permissions")
    @classmethod
    def _no_admin(cls, value: list[Permission]) -> list[Permission]:
        if Permission.USERS_ADMIN in value:
            raise ValueError("API keys cannot administer users, grants or keys")
        return value


class ApiKeyRead(BaseModel):
    """A key as listed: its public id, never its secret."""

    id: uuid.UUID
    public_id: str
    name: str
    owner_id: uuid.UUID
    permissions: list[Permission]
    missions: list[uuid.UUID] | None
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyRead:
        """The read shape of a stored key."""
        return cls(
            id=key.id,
            public_id=key.public_id,
            name=key.name,
            owner_id=key.owner_id,
            permissions=[Permission(p) for p in key.permissions],
            missions=None if key.mission_ids is None else [uuid.UUID(m) for m in key.mission_ids],
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyCreated(ApiKeyRead):
    """The one response that carries the token; it is not stored and cannot be shown again."""

    token: str = Field(description="Shown once. Store it in a secret manager now.")


class ApiKeyList(BaseModel):
    """Keys the caller owns (or administers, when asked)."""

    items: list[ApiKeyRead]


class KeyTokenIssued(BaseModel):
    """A bearer token for the key that asked, shown once; it ends with the key, or sooner."""

    token: str = Field(description="Send it as 'Authorization: Bearer …' instead of the key.")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, no secret
    expires_at: datetime
    expires_in: int = Field(description="Seconds until the token expires.")
