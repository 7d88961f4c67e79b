"""API shapes for connectors and their sync runs.

The secret is write-only: ``ConnectorCreate`` takes it as a ``SecretStr`` (never echoed, not even
in a 422) and no read shape has a field for it. The vendor endpoints are shown, derived from the
kind, and cannot be set.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)

from secops.accounts.connectors.models import ConnectorKind, SyncStatus
from secops.core.pagination import Page

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE)
]
# A directory id (GUID) or a tenant domain: it becomes part of the token URL's path.
TenantId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=253,
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?$",
    ),
]
CustomerId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^\w+$")
]
ClientId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=320, pattern=r"^[A-Za-z0-9@.\-_]+$"
    ),
]
MAX_SECRET_CHARS = 20_000

_FIELDS_BY_KIND = {
    ConnectorKind.MICROSOFT_GRAPH: ({"tenant_id", "client_id"}, {"customer_id", "admin_subject"}),
    ConnectorKind.GOOGLE_WORKSPACE: ({"customer_id", "admin_subject"}, {"tenant_id"}),
}


class ConnectorCreate(BaseModel):
    """A new connector. Graph: tenant and client id, the client secret. Google: customer id,
    the admin to act for, the service-account key file (JSON) as the secret."""

    model_config = ConfigDict(extra="forbid")

    kind: ConnectorKind
    name: Name
    mission_id: uuid.UUID
    tenant_id: TenantId | None = None
    customer_id: CustomerId | None = None
    admin_subject: EmailStr | None = None
    # Google: optional; when given it must be the key file's client_email.
    client_id: ClientId | None = None
    secret: SecretStr = Field(min_length=1, max_length=MAX_SECRET_CHARS)

    @model_validator(mode="after")
    def _fields_match_kind(self) -> ConnectorCreate:
        required, forbidden = _FIELDS_BY_KIND[self.kind]
        missing = sorted(f for f in required if getattr(self, f) is None)
        if missing:
            raise ValueError(f"{self.kind.value} connectors need {', '.join(missing)}")
        extra = sorted(f for f in forbidden if getattr(self, f) is not None)
        if extra:
            raise ValueError(f"{self.kind.value} connectors take no {', '.join(extra)}")
        return self


class ConnectorRead(BaseModel):
    """A connector as shown to officers: its tenant and status, never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: ConnectorKind
    name: str
    mission_id: uuid.UUID
    tenant_id: str | None
    customer_id: str | None
    admin_subject: str | None
    client_id: str
    token_url: str
    api_base: str
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    last_sync_at: datetime | None
    last_sync_status: SyncStatus | None
    version: int


ConnectorPage = Page[ConnectorRead]


class SyncRunRead(BaseModel):
    """One sync: how it ended, the counts of what changed, and vendor error codes if any."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    connector_id: uuid.UUID
    mission_id: uuid.UUID
    started_by: uuid.UUID
    started_at: datetime
    finished_at: datetime | None
    status: SyncStatus
    counts: dict[str, int]
    error: str | None


SyncRunPage = Page[SyncRunRead]


class ConnectorCheck(BaseModel):
    """The result of ``test``: whether the vendor let us in, else its error code."""

    ok: bool
    code: str | None = None
    http_status: int | None = None
    checked_at: datetime


class PageQuery(BaseModel):
    """Cursor and page size for lists."""

    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(default=None, max_length=500)
    limit: int | None = Field(default=None, ge=1)
