"""The vocabulary a policy condition may name: each field, its type and the fact group behind it.

A condition in ``policies/*.yaml`` names facts by these dotted names, never tables or columns.
The evaluator fills one :class:`~secops.policy.facts.AccountFacts` per account from the inventory;
the loader refuses a rule that names a field outside this table, or an operator that does not suit
the field's type. Each field belongs to a fact group whose provenance (source, attested by, observed
at, status) is the evidence shown beside the value: when a group was never recorded, or its source
answered with an error, every field in it is *unknown*, and unknown never passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from secops.accounts.models import (
    AccountKind,
    AccountStatus,
    AccountTier,
    Affiliation,
    CredentialStorage,
    MfaStrength,
    PersonStatus,
    PhoneOwner,
    Platform,
)


class FieldType(StrEnum):
    """What kind of value a field holds; it decides the operators and value types allowed."""

    BOOL = "bool"
    STRING = "string"
    ENUM = "enum"
    INT = "int"
    DATETIME = "datetime"
    STRING_LIST = "string_list"
    COLLECTION = "collection"  # a list of records, reached only through a quantifier


class Group(StrEnum):
    """A set of facts recorded together, with one provenance."""

    ACCOUNT = "account"  # the inventory row itself: always recorded
    OWNER = "owner"  # the owner's directory entry
    MFA = "mfa"
    MFA_METHODS = "mfa_methods"
    RECOVERY = "recovery"
    CREDENTIAL = "credential"
    ADMINS = "admins"
    APPS = "apps"


@dataclass(frozen=True)
class FieldSpec:
    """One field a condition may name."""

    name: str
    type: FieldType
    group: Group
    description: str
    choices: tuple[str, ...] = ()  # the allowed values of an ENUM (or the items of a STRING_LIST)
    elements: Mapping[str, FieldSpec] = field(default_factory=dict)  # a COLLECTION's record fields


def _choices(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def _spec(
    name: str,
    type_: FieldType,
    group: Group,
    description: str,
    choices: tuple[str, ...] = (),
    elements: Mapping[str, FieldSpec] | None = None,
) -> FieldSpec:
    return FieldSpec(name, type_, group, description, choices, elements or {})


_B, _S, _E, _I, _D = (FieldType.BOOL, FieldType.STRING, FieldType.ENUM, FieldType.INT,
                      FieldType.DATETIME)  # fmt: skip
_STRENGTHS: Final = _choices(MfaStrength)
_PERSON: Final = _choices(PersonStatus)

# Method strings that put a phone line (SMS, voice, messaging) or a mailbox in the sign-in path.
PHONE_METHODS: Final = frozenset(
    {
        "mobilephone", "alternatemobilephone", "officephone", "voicemobile",
        "voicealternatemobile", "voiceoffice", "sms", "voice", "phone", "textmessage", "whatsapp",
    }
)  # fmt: skip
EMAIL_METHODS: Final = frozenset({"email", "emailcode"})


def method_key(method: str) -> str:
    """A method string compared as the MFA strength table compares it (case, spaces, dashes)."""
    return "".join(ch for ch in method.casefold() if ch not in " -_")


_HOLDER_FIELDS: Final = {
    spec.name: spec
    for spec in (
        _spec("person_status", _E, Group.CREDENTIAL, "Whether the holder still works here.",
              _PERSON),
        _spec("left_at", _D, Group.CREDENTIAL, "When the holder left, if they did."),
    )
}  # fmt: skip

_ADMIN_FIELDS: Final = {
    spec.name: spec
    for spec in (
        _spec("named", _B, Group.ADMINS, "The admin is a person in the staff directory."),
        _spec("person_status", _E, Group.ADMINS,
              "Directory status of the admin (unknown for an external identity).", _PERSON),
        _spec("left_at", _D, Group.ADMINS, "When the admin left the ministry, if they did."),
        _spec("affiliation", _E, Group.ADMINS, "Whom the admin works for.",
              _choices(Affiliation)),
        _spec("email_domain", _S, Group.ADMINS, "Domain of the admin's sign-in address."),
        _spec("last_sign_in_at", _D, Group.ADMINS, "The admin's last successful sign-in."),
        _spec("platform_role", _S, Group.ADMINS, "The admin's role on the platform."),
    )
}  # fmt: skip

_APP_FIELDS: Final = {
    spec.name: spec
    for spec in (
        _spec("name", _S, Group.APPS, "The connected application's name."),
        _spec("publisher", _S, Group.APPS, "Who publishes the application."),
        _spec("allow_listed", _B, Group.APPS, "On the ministry's allow-list of tools."),
        _spec("granted_at", _D, Group.APPS, "When access was granted."),
        _spec("last_reviewed_at", _D, Group.APPS, "When an officer last reviewed the grant."),
    )
}  # fmt: skip

FIELDS: Final[Mapping[str, FieldSpec]] = {
    spec.name: spec
    for spec in (
        _spec("account.platform", _E, Group.ACCOUNT, "Where the account lives.",
              _choices(Platform)),
        _spec("account.tier", _E, Group.ACCOUNT, "How prominent the account is.",
              _choices(AccountTier)),
        _spec("account.kind", _E, Group.ACCOUNT, "Institutional or personal-official.",
              _choices(AccountKind)),
        _spec("account.status", _E, Group.ACCOUNT, "Active, dormant or closed.",
              _choices(AccountStatus)),
        _spec("account.handle", _S, Group.ACCOUNT, "The account's handle or sign-in address."),
        _spec("account.owner", _S, Group.ACCOUNT,
              "The accountable owner (a person in the directory); unset when nobody is named."),
        _spec("account.last_activity_at", _D, Group.ACCOUNT, "Last post or sign-in recorded."),
        _spec("account.verified_badge", _B, Group.ACCOUNT,
              "The platform shows its verification or government label."),
        _spec("account.in_public_registry", _B, Group.ACCOUNT,
              "Listed in the ministry's public registry of official accounts."),
        _spec("owner.status", _E, Group.OWNER, "Whether the owner still works here.", _PERSON),
        _spec("mfa.enabled", _B, Group.MFA, "A second factor is required at sign-in."),
        _spec("mfa.enforced", _B, Group.MFA,
              "The organisation enforces MFA (not left to the user)."),
        _spec("mfa.methods", FieldType.STRING_LIST, Group.MFA_METHODS,
              "Registered method strings, as the source reported them."),
        _spec("mfa.strengths", FieldType.STRING_LIST, Group.MFA_METHODS,
              "The strength tier of each registered method.", _STRENGTHS),
        _spec("mfa.strongest", _E, Group.MFA_METHODS,
              "The strongest registered tier (none when no method).", _STRENGTHS),
        _spec("mfa.phone_factor", _B, Group.MFA_METHODS,
              "An SMS, voice or messaging-app code is a registered factor."),
        _spec("mfa.email_factor", _B, Group.MFA_METHODS,
              "An e-mailed code is a registered factor."),
        _spec("recovery.email_domain", _S, Group.RECOVERY,
              "Domain of the recovery e-mail (unset when there is none)."),
        _spec("recovery.email_inventoried", _B, Group.RECOVERY,
              "The recovery e-mail is a mailbox in this inventory."),
        _spec("recovery.phone_set", _B, Group.RECOVERY, "A recovery phone is registered."),
        _spec("recovery.phone_owner", _E, Group.RECOVERY, "Who holds the recovery phone line.",
              _choices(PhoneOwner)),
        _spec("recovery.carrier_lock", _B, Group.RECOVERY,
              "The line has a carrier PIN or port-out lock."),
        _spec("recovery.backup_codes_escrowed", _B, Group.RECOVERY,
              "Backup codes are held in the ministry's escrow."),
        _spec("recovery.last_verified_at", _D, Group.RECOVERY,
              "When the recovery details were last checked."),
        _spec("credential.storage", _E, Group.CREDENTIAL, "Where the shared password is kept.",
              _choices(CredentialStorage)),
        _spec("credential.last_rotated_at", _D, Group.CREDENTIAL,
              "When the password was last changed."),
        _spec("credential.min_length", _I, Group.CREDENTIAL,
              "Minimum password length the account's policy enforces."),
        _spec("credential.breach_checked_at", _D, Group.CREDENTIAL,
              "When the password was last checked against breach corpora."),
        _spec("credential.holders", FieldType.COLLECTION, Group.CREDENTIAL,
              "People who know the shared password.", elements=_HOLDER_FIELDS),
        _spec("admins", FieldType.COLLECTION, Group.ADMINS,
              "Administrators of the account on the platform.", elements=_ADMIN_FIELDS),
        _spec("apps", FieldType.COLLECTION, Group.APPS,
              "Third-party applications connected to the account.", elements=_APP_FIELDS),
    )
}  # fmt: skip
