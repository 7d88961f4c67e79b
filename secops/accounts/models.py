"""Tables for the account inventory: people, accounts and the facts recorded about each account.

Every fact carries its provenance: where the evidence came from (``attested`` or
``api:<connector kind>``), when it was true, who attested it, and whether it was actually
obtained (``fact_status``). A connector that is refused writes ``error`` with the reason, so a
permission problem never reads as a pass. List items (methods, admins, apps) are rows of their
own (``FactProvenance``); the groups an account has one of (MFA state, recovery, credential, and
when each list was seen as a whole) share one row per account, ``AccountFactSheet``.

Two derived columns on ``account`` keep the list filters to one table: ``mfa_strength`` (the
strongest recorded method) and ``evidence_at`` (the oldest evidence among the fact groups
recorded). ``secops.accounts.facts.refresh_summaries`` recomputes them; every writer of facts,
bulk paths included, must call it for the accounts it touched.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Generic, Self, TypeVar, cast, overload

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlmodel import Field, SQLModel

from secops.core.crypto import register_encrypted_column
from secops.core.db import UTCDateTime, new_id

ATTESTED = "attested"
API_SOURCE_PREFIX = "api:"


class Platform(StrEnum):
    """Where an account lives."""

    X = "x"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"
    WEIBO = "weibo"
    LINKEDIN = "linkedin"
    TELEGRAM = "telegram"
    MICROSOFT365 = "microsoft365"
    GOOGLE_WORKSPACE = "google_workspace"
    ZOOM = "zoom"
    WEBEX = "webex"
    OTHER = "other"


SOCIAL_PLATFORMS = frozenset(
    {
        Platform.X,
        Platform.FACEBOOK,
        Platform.INSTAGRAM,
        Platform.TIKTOK,
        Platform.YOUTUBE,
        Platform.WEIBO,
        Platform.LINKEDIN,
        Platform.TELEGRAM,
    }
)
# Platforms whose handle is a sign-in address: compared case-insensitively, like e-mail.
MAILBOX_PLATFORMS = frozenset(
    {Platform.MICROSOFT365, Platform.GOOGLE_WORKSPACE, Platform.ZOOM, Platform.WEBEX}
)


def normalise_handle(platform: Platform, handle: str) -> str:
    """The stored form of a handle: stripped; social handles lower-cased without a leading ``@``.

    Sign-in addresses (Microsoft 365, Google Workspace, Zoom, Webex) are lower-cased too, so a
    recovery e-mail can be matched to the inventoried mailbox. ``other`` is only stripped.
    """
    value = handle.strip()
    if platform in SOCIAL_PLATFORMS:
        return value.removeprefix("@").strip().lower()
    if platform in MAILBOX_PLATFORMS:
        return value.lower()
    return value


class AccountTier(StrEnum):
    """How prominent the account is; the policy asks more of the higher tiers."""

    MINISTER = "minister"
    MINISTRY_MAIN = "ministry_main"
    HEAD_OF_MISSION = "head_of_mission"
    MISSION = "mission"
    STAFF = "staff"
    SERVICE = "service"


class AccountKind(StrEnum):
    """Whether the account belongs to the institution or to an official in person."""

    INSTITUTIONAL = "institutional"
    PERSONAL_OFFICIAL = "personal_official"


class AccountStatus(StrEnum):
    """Whether the account is in use."""

    ACTIVE = "active"
    DORMANT = "dormant"
    CLOSED = "closed"


class PersonStatus(StrEnum):
    """Whether the person still works for the ministry."""

    ACTIVE = "active"
    LEFT = "left"


class FactStatus(StrEnum):
    """Whether a fact was obtained: ``error`` and ``missing`` are never read as a pass."""

    OK = "ok"
    ERROR = "error"
    MISSING = "missing"


class MfaStrength(StrEnum):
    """Strength tier of a second factor; ``unknown`` is an unrecognised method, never strong."""

    PHISHING_RESISTANT = "phishing_resistant"
    APP_PUSH = "app_push"
    TOTP = "totp"
    PHONE_EMAIL = "phone_email"
    NONE = "none"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Higher is stronger; ``unknown`` ranks with ``none`` plus one (better than nothing)."""
        return _STRENGTH_RANK[self]


_STRENGTH_RANK = {
    MfaStrength.PHISHING_RESISTANT: 5,
    MfaStrength.APP_PUSH: 4,
    MfaStrength.TOTP: 3,
    MfaStrength.PHONE_EMAIL: 2,
    MfaStrength.UNKNOWN: 1,
    MfaStrength.NONE: 0,
}


class PhoneOwner(StrEnum):
    """Who holds the recovery phone line."""

    INSTITUTIONAL = "institutional"
    PERSONAL = "personal"
    UNKNOWN = "unknown"


class CredentialStorage(StrEnum):
    """Where a shared password is kept (secops never stores it)."""

    VAULT = "vault"
    DOCUMENT = "document"
    CHAT = "chat"
    UNKNOWN = "unknown"


class Affiliation(StrEnum):
    """Whom an administrator works for."""

    MINISTRY = "ministry"
    OTHER_AGENCY = "other_agency"
    EXTERNAL = "external"


class FactGroup(StrEnum):
    """A list-valued fact group; the fact sheet records when the whole list was last seen."""

    MFA_METHODS = "mfa_methods"
    ADMINS = "admins"
    APPS = "apps"


class FactProvenance(SQLModel):
    """Where a fact came from and when it was true; mixed into every fact table."""

    # "attested" or "api:<connector kind>", e.g. "api:microsoft_graph".
    source: str = Field(default=ATTESTED, sa_type=String(64), nullable=False)
    # When the evidence was true; for attested facts, the time of the attestation.
    observed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # The secops user who attested it; None for facts read from an API.
    attested_by: uuid.UUID | None = Field(default=None, nullable=True)
    fact_status: FactStatus = Field(default=FactStatus.OK, sa_type=String(10), nullable=False)
    error_reason: str | None = Field(default=None, sa_type=String(500), nullable=True)
    # When secops stored the fact (may be later than observed_at for delayed reports).
    recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)

    def provenance(self) -> dict[str, Any]:
        """The provenance fields in JSON form, for audit diffs."""
        return {
            "source": self.source,
            "observed_at": self.observed_at.isoformat() if self.observed_at else None,
            "attested_by": str(self.attested_by) if self.attested_by else None,
            "fact_status": str(self.fact_status),
            "error_reason": self.error_reason,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class Person(SQLModel, table=True):
    """A member of staff: owners, administrators and credential holders point here."""

    __tablename__ = "person"
    __table_args__ = (Index("ix_person_mission_name", "mission_id", "full_name"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    full_name: str = Field(sa_column=Column(String(200), nullable=False))
    # Lower-cased by the service; unique across the ministry.
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))
    mission_id: uuid.UUID = Field(sa_column=Column(ForeignKey("mission.id"), nullable=False))
    position: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    status: PersonStatus = Field(
        default=PersonStatus.ACTIVE, sa_column=Column(String(10), nullable=False, index=True)
    )
    left_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, in JSON form, for before/after diffs."""
        return {
            "full_name": self.full_name,
            "email": self.email,
            "mission_id": str(self.mission_id),
            "position": self.position,
            "status": str(self.status),
            "left_at": _iso(self.left_at),
        }


class Account(SQLModel, table=True):
    """An official account on a platform, owned by a mission and (usually) a person."""

    __tablename__ = "account"
    __table_args__ = (
        UniqueConstraint("platform", "handle", name="uq_account_platform_handle"),
        UniqueConstraint("platform", "external_id", name="uq_account_platform_external_id"),
        # Keyset pages: the default order is (handle, id); most lists filter by mission first.
        Index("ix_account_mission_handle", "mission_id", "handle", "id"),
        Index("ix_account_mission_platform_handle", "mission_id", "platform", "handle"),
        Index("ix_account_handle_id", "handle", "id"),
        Index("ix_account_updated_id", "updated_at", "id"),
        Index("ix_account_tier_handle", "tier", "handle"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Indexed through uq_account_platform_handle (platform leads).
    platform: Platform = Field(sa_column=Column(String(20), nullable=False))
    # Normalised by normalise_handle; unique together with the platform.
    handle: str = Field(sa_column=Column(String(320), nullable=False))
    url: str | None = Field(default=None, sa_column=Column(String(2048), nullable=True))
    display_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    # Indexed through ix_account_mission_handle (mission_id leads).
    mission_id: uuid.UUID = Field(sa_column=Column(ForeignKey("mission.id"), nullable=False))
    # Indexed through ix_account_tier_handle.
    tier: AccountTier = Field(sa_column=Column(String(20), nullable=False))
    kind: AccountKind = Field(sa_column=Column(String(20), nullable=False))
    owner_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("person.id"), nullable=True, index=True)
    )
    # Not indexed on its own: nearly every account is active, and an index on it lures the
    # planners away from the mission and platform indexes.
    status: AccountStatus = Field(
        default=AccountStatus.ACTIVE, sa_column=Column(String(10), nullable=False)
    )
    last_activity_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    verified_badge: bool | None = Field(default=None, sa_column=Column(Boolean, nullable=True))
    in_public_registry: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # The id a connector knows the account by (Graph user id, Google user id).
    external_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    # Derived (facts.refresh_summaries): strongest recorded MFA method; None = no MFA evidence.
    mfa_strength: MfaStrength | None = Field(
        default=None, sa_column=Column(String(20), nullable=True, index=True)
    )
    # Derived: the oldest observed_at among the recorded fact groups; None = no evidence at all.
    evidence_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))

    def snapshot(self) -> dict[str, Any]:
        """The audited descriptive fields, in JSON form, for before/after diffs."""
        return {
            "platform": str(self.platform),
            "handle": self.handle,
            "url": self.url,
            "display_name": self.display_name,
            "mission_id": str(self.mission_id),
            "tier": str(self.tier),
            "kind": str(self.kind),
            "owner_id": str(self.owner_id) if self.owner_id else None,
            "status": str(self.status),
            "last_activity_at": _iso(self.last_activity_at),
            "verified_badge": self.verified_badge,
            "in_public_registry": self.in_public_registry,
            "external_id": self.external_id,
        }


def _account_fk() -> Any:
    return ForeignKey("account.id", ondelete="CASCADE")


def _source() -> Any:
    return Column(String(64), nullable=True)


def _when() -> Any:
    return Column(UTCDateTime(), nullable=True)


def _who() -> Any:
    return Column(Uuid(), nullable=True)


def _status_column() -> Any:
    return Column(String(10), nullable=True)


def _reason() -> Any:
    return Column(String(500), nullable=True)


class AccountMfaMethod(FactProvenance, table=True):
    """One registered second factor, as the platform names it, with its strength tier."""

    __tablename__ = "account_mfa_method"
    __table_args__ = (
        UniqueConstraint("account_id", "method", name="uq_account_mfa_method_account_method"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Indexed through the unique constraint (account_id leads).
    account_id: uuid.UUID = Field(sa_column=Column(_account_fk(), nullable=False))
    # The raw string as reported, e.g. "fido2", "microsoftAuthenticatorPush", "sms".
    method: str = Field(sa_column=Column(String(100), nullable=False))
    strength: MfaStrength = Field(sa_column=Column(String(20), nullable=False))

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, in JSON form."""
        return {"method": self.method, "strength": str(self.strength), **self.provenance()}


class AccountCredentialHolder(SQLModel, table=True):
    """A person who knows a shared password (rotate it when they leave)."""

    __tablename__ = "account_credential_holder"

    account_id: uuid.UUID = Field(sa_column=Column(_account_fk(), primary_key=True))
    person_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class AccountAdmin(FactProvenance, table=True):
    """Someone with an administrative role on the account, a known person or an outside identity."""

    __tablename__ = "account_admin"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    account_id: uuid.UUID = Field(sa_column=Column(_account_fk(), nullable=False, index=True))
    person_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("person.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    # How the platform names the admin when no person matches, e.g. an e-mail address.
    external_identity: str | None = Field(
        default=None, sa_column=Column(String(320), nullable=True)
    )
    # The connector's id for the admin (Graph directory object id), for idempotent syncs.
    external_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    platform_role: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    affiliation: Affiliation = Field(
        default=Affiliation.MINISTRY, sa_column=Column(String(16), nullable=False)
    )
    email_domain: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    last_sign_in_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, in JSON form."""
        return {
            "person_id": str(self.person_id) if self.person_id else None,
            "external_identity": self.external_identity,
            "platform_role": self.platform_role,
            "affiliation": str(self.affiliation),
            "email_domain": self.email_domain,
            "last_sign_in_at": _iso(self.last_sign_in_at),
            **self.provenance(),
        }


class ConnectedApp(FactProvenance, table=True):
    """A third-party app or scheduling tool granted access to the account."""

    __tablename__ = "connected_app"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    account_id: uuid.UUID = Field(sa_column=Column(_account_fk(), nullable=False, index=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    publisher: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    granted_by: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    granted_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    last_reviewed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    allow_listed: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # The connector's id for the grant (Graph grant id, Google clientId).
    external_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, in JSON form."""
        return {
            "name": self.name,
            "publisher": self.publisher,
            "scopes": list(self.scopes),
            "granted_by": self.granted_by,
            "granted_at": _iso(self.granted_at),
            "last_reviewed_at": _iso(self.last_reviewed_at),
            "allow_listed": self.allow_listed,
            **self.provenance(),
        }


# -- the fact sheet: every one-per-account fact group in one row ---------------------------------


class AccountFactSheet(SQLModel, table=True):
    """The account's single-valued facts: MFA state, recovery and credential, and when each
    list group (methods, admins, apps) was last seen as a whole.

    Each group keeps its own provenance under its prefix (``mfa_``, ``recovery_``,
    ``credential_``, ``mfa_methods_``, ``admins_``, ``apps_``); a group whose ``*_source`` is
    NULL was never recorded. One row per account instead of one per group: an inventory
    import writes a fifth as many rows (the groups were four tables before revision 0005).
    Code reads and writes a group through its view (``mfa()``, ``recovery()``,
    ``credential()``, ``group()``), which names the fields as the group does.
    """

    __tablename__ = "account_fact_sheet"

    account_id: uuid.UUID = Field(sa_column=Column(_account_fk(), primary_key=True))

    mfa_enabled: bool | None = Field(default=None, sa_column=Column(Boolean, nullable=True))
    # True: required by the organisation (CA policy, 2SV enforcement); False: left to the user.
    mfa_enforced: bool | None = Field(default=None, sa_column=Column(Boolean, nullable=True))
    mfa_source: str | None = Field(default=None, sa_column=_source())
    mfa_observed_at: datetime | None = Field(default=None, sa_column=_when())
    mfa_attested_by: uuid.UUID | None = Field(default=None, sa_column=_who())
    mfa_fact_status: str | None = Field(default=None, sa_column=_status_column())
    mfa_error_reason: str | None = Field(default=None, sa_column=_reason())
    mfa_recorded_at: datetime | None = Field(default=None, sa_column=_when())

    mfa_methods_source: str | None = Field(default=None, sa_column=_source())
    mfa_methods_observed_at: datetime | None = Field(default=None, sa_column=_when())
    mfa_methods_attested_by: uuid.UUID | None = Field(default=None, sa_column=_who())
    mfa_methods_fact_status: str | None = Field(default=None, sa_column=_status_column())
    mfa_methods_error_reason: str | None = Field(default=None, sa_column=_reason())
    mfa_methods_recorded_at: datetime | None = Field(default=None, sa_column=_when())

    # encrypt_field(table="account_recovery", column="email", row_id=account_id).
    recovery_email: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    # Plain and lower-case: the policy checks it against the ministry's domains.
    recovery_email_domain: str | None = Field(
        default=None, sa_column=Column(String(255), nullable=True, index=True)
    )
    # Masked form ("a•••@gmail.com") shown to callers without ACCOUNTS_SECRETS_READ.
    recovery_email_hint: str | None = Field(
        default=None, sa_column=Column(String(320), nullable=True)
    )
    # Set when the recovery address is itself an inventoried mailbox.
    recovery_email_account_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("account.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    # encrypt_field(table="account_recovery", column="phone", row_id=account_id).
    recovery_phone: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    # Masked form ("+33 •• •• •• 12").
    recovery_phone_hint: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True)
    )
    recovery_phone_owner: str | None = Field(
        default=None, sa_column=Column(String(16), nullable=True)
    )
    recovery_carrier_lock: bool | None = Field(
        default=None, sa_column=Column(Boolean, nullable=True)
    )
    recovery_backup_codes_escrowed: bool | None = Field(
        default=None, sa_column=Column(Boolean, nullable=True)
    )
    recovery_last_verified_at: datetime | None = Field(default=None, sa_column=_when())
    recovery_source: str | None = Field(default=None, sa_column=_source())
    recovery_observed_at: datetime | None = Field(default=None, sa_column=_when())
    recovery_attested_by: uuid.UUID | None = Field(default=None, sa_column=_who())
    recovery_fact_status: str | None = Field(default=None, sa_column=_status_column())
    recovery_error_reason: str | None = Field(default=None, sa_column=_reason())
    recovery_recorded_at: datetime | None = Field(default=None, sa_column=_when())

    credential_storage: str | None = Field(
        default=None, sa_column=Column(String(16), nullable=True)
    )
    credential_last_rotated_at: datetime | None = Field(default=None, sa_column=_when())
    credential_min_length: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True)
    )
    credential_breach_checked_at: datetime | None = Field(default=None, sa_column=_when())
    credential_source: str | None = Field(default=None, sa_column=_source())
    credential_observed_at: datetime | None = Field(default=None, sa_column=_when())
    credential_attested_by: uuid.UUID | None = Field(default=None, sa_column=_who())
    credential_fact_status: str | None = Field(default=None, sa_column=_status_column())
    credential_error_reason: str | None = Field(default=None, sa_column=_reason())
    credential_recorded_at: datetime | None = Field(default=None, sa_column=_when())

    admins_source: str | None = Field(default=None, sa_column=_source())
    admins_observed_at: datetime | None = Field(default=None, sa_column=_when())
    admins_attested_by: uuid.UUID | None = Field(default=None, sa_column=_who())
    admins_fact_status: str | None = Field(default=None, sa_column=_status_column())
    admins_error_reason: str | None = Field(default=None, sa_column=_reason())
    admins_recorded_at: datetime | None = Field(default=None, sa_column=_when())

    apps_source: str | None = Field(default=None, sa_column=_source())
    apps_observed_at: datetime | None = Field(default=None, sa_column=_when())
    apps_attested_by: uuid.UUID | None = Field(default=None, sa_column=_who())
    apps_fact_status: str | None = Field(default=None, sa_column=_status_column())
    apps_error_reason: str | None = Field(default=None, sa_column=_reason())
    apps_recorded_at: datetime | None = Field(default=None, sa_column=_when())

    def mfa(self) -> MfaFacts:
        """The MFA state group."""
        return MfaFacts(self, MFA_PREFIX)

    def recovery(self) -> RecoveryFacts:
        """The recovery group."""
        return RecoveryFacts(self, RECOVERY_PREFIX)

    def credential(self) -> CredentialFacts:
        """The credential group."""
        return CredentialFacts(self, CREDENTIAL_PREFIX)

    def group(self, group: FactGroup) -> ListGroupFacts:
        """When a list group was last seen as a whole."""
        return ListGroupFacts(self, group.value)

    def groups(self) -> list[ListGroupFacts]:
        """The list groups recorded, by name."""
        views = [self.group(g) for g in sorted(FactGroup, key=lambda g: g.value)]
        return [view for view in views if view.recorded]


MFA_PREFIX: Final = "mfa"
RECOVERY_PREFIX: Final = "recovery"
CREDENTIAL_PREFIX: Final = "credential"
# Every group's prefix on the fact sheet, as evidence summaries name the groups.
SHEET_GROUPS: Final = (
    MFA_PREFIX,
    RECOVERY_PREFIX,
    CREDENTIAL_PREFIX,
    *(group.value for group in FactGroup),
)
PROVENANCE_FIELDS: Final = (
    "source",
    "observed_at",
    "attested_by",
    "fact_status",
    "error_reason",
    "recorded_at",
)
# The ciphertexts keep the place they were bound to when the groups had tables of their own.
register_encrypted_column(
    "account_fact_sheet", "recovery_email", id_column="account_id", label="account_recovery.email"
)
register_encrypted_column(
    "account_fact_sheet", "recovery_phone", id_column="account_id", label="account_recovery.phone"
)

T = TypeVar("T")


class _Field(Generic[T]):
    """A group's field on the fact sheet: column ``<prefix>_<name>`` unless named."""

    def __init__(self, column: str | None = None) -> None:
        self.column = column
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def column_of(self, view: GroupFacts) -> str:
        """The sheet's column for this field of ``view``'s group."""
        return self.column or f"{view.prefix}_{self.name}"

    @overload
    def __get__(self, view: None, owner: type) -> _Field[T]: ...

    @overload
    def __get__(self, view: GroupFacts, owner: type) -> T: ...

    def __get__(self, view: GroupFacts | None, owner: type) -> T | _Field[T]:
        if view is None:
            return self
        return cast(T, getattr(view.sheet, self.column_of(view)))

    def __set__(self, view: GroupFacts, value: T) -> None:
        setattr(view.sheet, self.column_of(view), value)


class GroupFacts:
    """One fact group on an account's fact sheet, its fields under the group's own names."""

    source = _Field[str]()
    observed_at = _Field[datetime | None]()
    attested_by = _Field[uuid.UUID | None]()
    fact_status = _Field[FactStatus]()
    error_reason = _Field[str | None]()
    recorded_at = _Field[datetime | None]()

    def __init__(self, sheet: AccountFactSheet, prefix: str) -> None:
        self.sheet = sheet
        self.prefix = prefix

    @property
    def account_id(self) -> uuid.UUID:
        """The account the sheet describes."""
        return self.sheet.account_id

    @property
    def recorded(self) -> bool:
        """True once the group has been written (its source is set)."""
        return getattr(self.sheet, f"{self.prefix}_source") is not None

    def if_recorded(self) -> Self | None:
        """This group, or None if it was never recorded (as a missing row read before)."""
        return self if self.recorded else None

    def provenance(self) -> dict[str, Any]:
        """The provenance fields in JSON form, for audit diffs."""
        return {
            "source": self.source,
            "observed_at": _iso(self.observed_at),
            "attested_by": str(self.attested_by) if self.attested_by else None,
            "fact_status": str(self.fact_status),
            "error_reason": self.error_reason,
        }


class MfaFacts(GroupFacts):
    """Whether MFA is on for the account, and whether the organisation enforces it."""

    mfa_enabled = _Field[bool | None]("mfa_enabled")
    mfa_enforced = _Field[bool | None]("mfa_enforced")

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, in JSON form."""
        return {
            "mfa_enabled": self.mfa_enabled,
            "mfa_enforced": self.mfa_enforced,
            **self.provenance(),
        }


class RecoveryFacts(GroupFacts):
    """How the account is recovered; the address and number are stored only encrypted."""

    email = _Field[bytes | None]()
    email_domain = _Field[str | None]()
    email_hint = _Field[str | None]()
    email_account_id = _Field[uuid.UUID | None]()
    phone = _Field[bytes | None]()
    phone_hint = _Field[str | None]()
    phone_owner = _Field[PhoneOwner]()
    carrier_lock = _Field[bool | None]()
    backup_codes_escrowed = _Field[bool | None]()
    last_verified_at = _Field[datetime | None]()

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, in JSON form: the address and number only masked."""
        return {
            "email": self.email_hint,
            "email_domain": self.email_domain,
            "email_account_id": str(self.email_account_id) if self.email_account_id else None,
            "phone": self.phone_hint,
            "phone_owner": str(self.phone_owner or PhoneOwner.UNKNOWN),
            "carrier_lock": self.carrier_lock,
            "backup_codes_escrowed": self.backup_codes_escrowed,
            "last_verified_at": _iso(self.last_verified_at),
            **self.provenance(),
        }


class CredentialFacts(GroupFacts):
    """Facts about the account's password; the password itself is never stored."""

    storage = _Field[CredentialStorage]()
    last_rotated_at = _Field[datetime | None]()
    min_length = _Field[int | None]()
    breach_checked_at = _Field[datetime | None]()

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, in JSON form."""
        return {
            "storage": str(self.storage or CredentialStorage.UNKNOWN),
            "last_rotated_at": _iso(self.last_rotated_at),
            "min_length": self.min_length,
            "breach_checked_at": _iso(self.breach_checked_at),
            **self.provenance(),
        }


class ListGroupFacts(GroupFacts):
    """When a list-valued group was last seen as a whole, even empty, or why it was not.

    An empty list recorded ``ok`` means "seen: none"; unrecorded means never recorded; an
    ``error`` means the source refused (the list keeps its previous items for reference).
    """

    @property
    def fact_group(self) -> FactGroup:
        """Which list."""
        return FactGroup(self.prefix)


Provenanced = FactProvenance | GroupFacts
