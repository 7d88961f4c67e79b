"""API shapes for people and accounts: create, update, read and page.

Fact groups (MFA, recovery, credential, admins, apps) have their own shapes in
``fact_schemas.py``. Input shapes forbid unknown fields and hold no server-kept fields; read
shapes hold no secrets (the recovery address and number appear only in ``RecoveryRead``, masked
unless the caller holds ``accounts:secrets:read`` on the mission).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    StringConstraints,
    model_validator,
)

from secops.accounts.fact_schemas import (
    AdminRead,
    ConnectedAppRead,
    CredentialRead,
    FactGroupRead,
    MfaMethodRead,
    MfaStateRead,
    RecoveryRead,
)
from secops.accounts.models import (
    AccountKind,
    AccountStatus,
    AccountTier,
    MfaStrength,
    PersonStatus,
    Platform,
    normalise_handle,
)
from secops.core.pagination import Page

# Printable text only: names end up in reports, PDFs and terminal output.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE)
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE)
]
HandleText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320, pattern=PRINTABLE)
]
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE)
]


def _lower_email(value: str) -> str:
    return value.lower()


LowerEmail = Annotated[EmailStr, AfterValidator(_lower_email)]


def _http_url(value: str) -> str:
    # Checked by hand rather than with HttpUrl: the stored form is exactly what was sent.
    lowered = value.lower()
    if not (lowered.startswith("https://") or lowered.startswith("http://")):
        raise ValueError("must be an http(s) URL")
    rest = value.split("://", 1)[1]
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if not host or "@" in host or any(c.isspace() for c in value):
        raise ValueError("must be an http(s) URL with a host and no credentials or spaces")
    return value


AccountUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2048), AfterValidator(_http_url)
]


class _Patch(BaseModel):
    """An update: omit a field to keep it; null only where the field may be empty."""

    model_config = ConfigDict(extra="forbid")
    REQUIRED: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_on_required(self) -> Any:
        nulls = sorted(f for f in self.model_fields_set & self.REQUIRED if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"omit a field to leave it unchanged; null is not allowed: {nulls}")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent."""
        return self.model_dump(exclude_unset=True)


# -- people ---------------------------------------------------------------------------------


class PersonCreate(BaseModel):
    """A new member of staff."""

    model_config = ConfigDict(extra="forbid")

    full_name: Name
    email: LowerEmail
    mission_id: uuid.UUID
    position: ShortText | None = None
    status: PersonStatus = PersonStatus.ACTIVE
    left_at: datetime | None = None


class PersonUpdate(_Patch):
    """Changes to a person; marking them ``left`` without ``left_at`` stamps the current time."""

    REQUIRED: ClassVar[frozenset[str]] = frozenset({"full_name", "email", "mission_id", "status"})

    full_name: Name | None = None
    email: LowerEmail | None = None
    mission_id: uuid.UUID | None = None
    position: ShortText | None = None
    status: PersonStatus | None = None
    left_at: datetime | None = None


class PersonRead(BaseModel):
    """A person as the API shows them."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    full_name: str
    email: str
    mission_id: uuid.UUID
    position: str | None
    status: PersonStatus
    left_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


PersonPage = Page[PersonRead]


# -- accounts -------------------------------------------------------------------------------


class AccountCreate(BaseModel):
    """A new account; the handle is normalised for its platform (see ``normalise_handle``)."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform
    handle: HandleText
    mission_id: uuid.UUID
    tier: AccountTier
    kind: AccountKind
    url: AccountUrl | None = None
    display_name: Name | None = None
    owner_id: uuid.UUID | None = None
    status: AccountStatus = AccountStatus.ACTIVE
    last_activity_at: datetime | None = None
    verified_badge: bool | None = None
    in_public_registry: bool = False
    external_id: ExternalId | None = None

    @model_validator(mode="after")
    def _normalise(self) -> AccountCreate:
        self.handle = normalise_handle(self.platform, self.handle)
        if not self.handle:
            raise ValueError("handle is empty once normalised")
        return self


class AccountUpdate(_Patch):
    """Changes to an account; the platform never changes (a new platform is a new account)."""

    REQUIRED: ClassVar[frozenset[str]] = frozenset(
        {"handle", "mission_id", "tier", "kind", "status", "in_public_registry"}
    )

    handle: HandleText | None = None
    mission_id: uuid.UUID | None = None
    tier: AccountTier | None = None
    kind: AccountKind | None = None
    url: AccountUrl | None = None
    display_name: Name | None = None
    owner_id: uuid.UUID | None = None
    status: AccountStatus | None = None
    last_activity_at: datetime | None = None
    verified_badge: bool | None = None
    in_public_registry: bool | None = None
    external_id: ExternalId | None = None


class AccountRead(BaseModel):
    """An account with its summary: the mission, the owner, MFA at a glance and evidence age."""

    id: uuid.UUID
    platform: Platform
    handle: str
    url: str | None
    display_name: str | None
    mission_id: uuid.UUID
    mission_code: str
    tier: AccountTier
    kind: AccountKind
    owner_id: uuid.UUID | None
    owner_name: str | None
    status: AccountStatus
    last_activity_at: datetime | None
    verified_badge: bool | None
    in_public_registry: bool
    external_id: str | None
    # The strongest recorded method; None when no MFA evidence has been recorded.
    mfa_strength: MfaStrength | None
    mfa: MfaStateRead | None
    mfa_methods: list[str]
    # The oldest evidence among the recorded fact groups, and its age in whole days.
    evidence_at: datetime | None
    age_days: int | None
    created_at: datetime
    updated_at: datetime
    version: int


class AccountDetail(AccountRead):
    """An account with every fact group; list groups carry when the whole list was seen."""

    mfa_method_facts: list[MfaMethodRead]
    recovery: RecoveryRead | None
    credential: CredentialRead | None
    admins: list[AdminRead]
    apps: list[ConnectedAppRead]
    groups: list[FactGroupRead]


AccountPage = Page[AccountRead]
