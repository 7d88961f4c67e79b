"""API shapes for the facts about an account: what an attestation or a connector sends, and reads.

In ``AttestationIn`` a group left out (or null) is not touched; an empty list is an attestation
that there are none. Every read carries its provenance and ``age_days`` (whole days since the
evidence was true; None when nobody knows when).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from secops.accounts.models import (
    Affiliation,
    CredentialStorage,
    FactGroup,
    FactStatus,
    MfaStrength,
    PhoneOwner,
)

_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_PRINTABLE)
]
MethodName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_PRINTABLE)
]
Scope = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=_PRINTABLE)
]


def _lower(value: str) -> str:
    return value.lower()


def _phone(value: str) -> str:
    compact = _PHONE_SEPARATORS.sub("", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.match(compact):
        raise ValueError("must be an international number, e.g. +33 6 12 34 56 78")
    return compact


def _domain(value: str) -> str:
    value = value.strip().lower()
    if not _DOMAIN.match(value):
        raise ValueError("must be a domain name, e.g. example.org")
    return value


Email = Annotated[EmailStr, AfterValidator(_lower)]
Phone = Annotated[str, StringConstraints(max_length=40), AfterValidator(_phone)]
Domain = Annotated[str, StringConstraints(max_length=253), AfterValidator(_domain)]


# -- inputs ---------------------------------------------------------------------------------


class MfaStateIn(BaseModel):
    """Whether MFA is on, and whether the organisation enforces it (None: not known)."""

    model_config = ConfigDict(extra="forbid")

    mfa_enabled: bool | None = None
    mfa_enforced: bool | None = None


class RecoveryIn(BaseModel):
    """How the account is recovered; the address and number are encrypted when stored."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    phone: Phone | None = None
    phone_owner: PhoneOwner = PhoneOwner.UNKNOWN
    carrier_lock: bool | None = None
    backup_codes_escrowed: bool | None = None
    last_verified_at: datetime | None = None


class CredentialIn(BaseModel):
    """Where the password is kept and how it is looked after; never the password itself."""

    model_config = ConfigDict(extra="forbid")

    storage: CredentialStorage = CredentialStorage.UNKNOWN
    last_rotated_at: datetime | None = None
    min_length: int | None = Field(default=None, ge=1, le=1024)
    breach_checked_at: datetime | None = None
    # People who know the shared password; None leaves the recorded holders as they are.
    holder_ids: list[uuid.UUID] | None = Field(default=None, max_length=200)


class AdminIn(BaseModel):
    """An administrator: a person in the directory, or an identity the platform reports."""

    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID | None = None
    external_identity: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
        | None
    ) = None
    external_id: Text | None = None
    platform_role: Text | None = None
    affiliation: Affiliation = Affiliation.MINISTRY
    # Derived from the person's or the identity's e-mail address when left out.
    email_domain: Domain | None = None
    last_sign_in_at: datetime | None = None

    @model_validator(mode="after")
    def _someone(self) -> AdminIn:
        if self.person_id is None and self.external_identity is None:
            raise ValueError("name the admin with person_id or external_identity")
        return self


class ConnectedAppIn(BaseModel):
    """A third-party app granted access to the account."""

    model_config = ConfigDict(extra="forbid")

    name: Text
    publisher: Text | None = None
    scopes: list[Scope] = Field(default_factory=list, max_length=200)
    granted_by: Annotated[str, StringConstraints(max_length=320)] | None = None
    granted_at: datetime | None = None
    last_reviewed_at: datetime | None = None
    allow_listed: bool = False
    external_id: Text | None = None


class AttestationIn(BaseModel):
    """Facts an officer vouches for now; each group sent replaces what was recorded for it."""

    model_config = ConfigDict(extra="forbid")

    mfa: MfaStateIn | None = None
    mfa_methods: list[MethodName] | None = Field(default=None, max_length=50)
    recovery: RecoveryIn | None = None
    credential: CredentialIn | None = None
    admins: list[AdminIn] | None = Field(default=None, max_length=200)
    apps: list[ConnectedAppIn] | None = Field(default=None, max_length=500)

    def groups(self) -> list[str]:
        """The groups this attestation sets."""
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


# -- reads ----------------------------------------------------------------------------------


class FactRead(BaseModel):
    """Where a fact came from, when it was true, and how old that evidence is."""

    source: str
    observed_at: datetime | None
    attested_by: uuid.UUID | None
    fact_status: FactStatus
    error_reason: str | None
    age_days: int | None


class MfaStateRead(FactRead):
    """Whether MFA is on and enforced."""

    mfa_enabled: bool | None
    mfa_enforced: bool | None


class MfaMethodRead(FactRead):
    """One registered method and its strength tier."""

    method: str
    strength: MfaStrength


class RecoveryRead(FactRead):
    """Recovery details; ``email``/``phone`` are masked unless ``masked`` is false."""

    masked: bool
    email: str | None
    email_domain: str | None
    email_account_id: uuid.UUID | None
    phone: str | None
    phone_owner: PhoneOwner
    carrier_lock: bool | None
    backup_codes_escrowed: bool | None
    last_verified_at: datetime | None


class CredentialRead(FactRead):
    """Password handling facts and who holds the shared password."""

    storage: CredentialStorage
    last_rotated_at: datetime | None
    min_length: int | None
    breach_checked_at: datetime | None
    holder_ids: list[uuid.UUID]


class AdminRead(FactRead):
    """An administrator of the account."""

    id: uuid.UUID
    person_id: uuid.UUID | None
    person_name: str | None
    external_identity: str | None
    platform_role: str | None
    affiliation: Affiliation
    email_domain: str | None
    last_sign_in_at: datetime | None


class ConnectedAppRead(FactRead):
    """A connected app and its review state."""

    id: uuid.UUID
    name: str
    publisher: str | None
    scopes: list[str]
    granted_by: str | None
    granted_at: datetime | None
    last_reviewed_at: datetime | None
    allow_listed: bool


class FactGroupRead(FactRead):
    """When a list-valued group (methods, admins, apps) was last seen as a whole."""

    group: FactGroup
