"""The words of a result: labels for fields, values and sources, so a reason reads as a sentence.

A reason names the deciding fact, its value and where it came from: "MFA is not enabled (attested
12 days ago)". Labels live here, beside the field table they describe; a field without a label
still gets a readable one derived from its name, and a test keeps the table complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from secops.policy.facts import Provenance
from secops.policy.fields import Group

# Noun phrases for non-boolean fields (top-level names, and collection element names).
LABELS: Final[dict[str, str]] = {
    "account.platform": "Platform",
    "account.tier": "Tier",
    "account.kind": "Account kind",
    "account.status": "Account status",
    "account.handle": "Handle",
    "account.owner": "Owner",
    "account.last_activity_at": "Last activity",
    "owner.status": "Owner's status",
    "mfa.methods": "Registered MFA methods",
    "mfa.strengths": "MFA method strengths",
    "mfa.strongest": "Strongest MFA method",
    "recovery.email_domain": "Recovery e-mail domain",
    "recovery.phone_owner": "Recovery phone holder",
    "recovery.last_verified_at": "Recovery details last verified",
    "credential.storage": "Shared password kept in",
    "credential.last_rotated_at": "Password last rotated",
    "credential.min_length": "Minimum password length",
    "credential.breach_checked_at": "Password last checked against breaches",
    # Booleans, for "... was not recorded"; their values read through BOOL_PHRASES.
    "account.verified_badge": "The verification label",
    "account.in_public_registry": "The public registry listing",
    "mfa.enabled": "Whether MFA is on",
    "mfa.enforced": "Whether MFA is enforced",
    "mfa.phone_factor": "Whether a phone factor is registered",
    "mfa.email_factor": "Whether an e-mail factor is registered",
    "recovery.email_inventoried": "Whether the recovery mailbox is inventoried",
    "recovery.phone_set": "Whether a recovery phone is registered",
    "recovery.carrier_lock": "Whether the recovery line has a carrier lock",
    "recovery.backup_codes_escrowed": "Whether backup codes are in escrow",
    "named": "directory match",
    "allow_listed": "allow-list status",
    # Collection record fields: they follow "Admin Jane Doe: ".
    "person_status": "status",
    "left_at": "left",
    "affiliation": "affiliation",
    "email_domain": "sign-in domain",
    "last_sign_in_at": "last sign-in",
    "platform_role": "role",
    "name": "name",
    "publisher": "publisher",
    "granted_at": "access granted",
    "last_reviewed_at": "last reviewed",
}

# What a boolean fact says when true and when false.
BOOL_PHRASES: Final[dict[str, tuple[str, str]]] = {
    "account.verified_badge": (
        "The account carries the platform's verification label",
        "The account carries no verification label",
    ),
    "account.in_public_registry": (
        "The account is in the ministry's public registry",
        "The account is not in the ministry's public registry",
    ),
    "mfa.enabled": ("MFA is enabled", "MFA is not enabled"),
    "mfa.enforced": ("MFA is enforced by the organisation", "MFA is left to the user"),
    "mfa.phone_factor": (
        "An SMS, voice or messaging code is a registered factor",
        "No SMS, voice or messaging code is registered",
    ),
    "mfa.email_factor": (
        "An e-mailed code is a registered factor",
        "No e-mailed code is registered",
    ),
    "recovery.email_inventoried": (
        "The recovery mailbox is in the inventory",
        "The recovery mailbox is not in the inventory",
    ),
    "recovery.phone_set": ("A recovery phone is registered", "No recovery phone is registered"),
    "recovery.carrier_lock": (
        "The recovery phone line has a carrier lock",
        "The recovery phone line has no carrier lock",
    ),
    "recovery.backup_codes_escrowed": (
        "Backup codes are held in the ministry's escrow",
        "Backup codes are not in the ministry's escrow",
    ),
    "named": ("is a named person in the directory", "is not a named person in the directory"),
    "allow_listed": ("is on the allow-list", "is not on the allow-list"),
}

# Short adjectives for boolean record fields, for counts: "1 named admin found".
ADJECTIVES: Final[dict[str, str]] = {"named": "named", "allow_listed": "allow-listed"}

# Singular and plural nouns of the collections.
NOUNS: Final[dict[str, tuple[str, str]]] = {
    "admins": ("admin", "admins"),
    "apps": ("connected app", "connected apps"),
    "credential.holders": ("password holder", "password holders"),
}

GROUP_LABELS: Final[dict[Group, str]] = {
    Group.ACCOUNT: "Account",
    Group.OWNER: "Owner",
    Group.MFA: "MFA",
    Group.MFA_METHODS: "MFA method",
    Group.RECOVERY: "Recovery",
    Group.CREDENTIAL: "Password",
    Group.ADMINS: "Admin",
    Group.APPS: "Connected app",
}

VALUE_LABELS: Final[dict[str, str]] = {
    "phishing_resistant": "phishing-resistant",
    "app_push": "app push",
    "totp": "authenticator code",
    "phone_email": "phone or e-mail code",
    "unknown": "unrecognised",
    "microsoft365": "Microsoft 365",
    "google_workspace": "Google Workspace",
    "x": "X",
}

_CACHE_SIZE: Final = 4096
_SHOWN: dict[str, str] = {}
_NOTES: dict[int, tuple[Provenance, datetime, str]] = {}

# Sources that describe the inventory itself: no "(read from ...)" note after their facts.
_QUIET_SOURCES: Final = frozenset({"inventory", "directory"})


def label(name: str) -> str:
    """The noun phrase of a field: ``"Recovery e-mail domain"``."""
    found = LABELS.get(name)
    if found is not None:
        return found
    words = name.rsplit(".", 1)[-1].replace("_", " ")
    return words[:1].upper() + words[1:] if "." in name else words


def bool_phrase(name: str, value: bool) -> str:
    """What a boolean fact says: ``"MFA is not enabled"``."""
    phrases = BOOL_PHRASES.get(name)
    if phrases is not None:
        return phrases[0] if value else phrases[1]
    return f"{label(name)} is {'true' if value else 'false'}"


def noun(collection: str, count: int = 2) -> str:
    """``"admin"`` or ``"admins"`` as ``count`` asks."""
    singular, plural = NOUNS.get(collection, (collection.rsplit(".", 1)[-1], collection))
    return singular if count == 1 else plural


def show(value: Any) -> str:
    """A value as a reader wants it: dates as dates, enum values in words, lists joined."""
    cls = value.__class__
    if cls is str:
        shown = _SHOWN.get(value)
        if shown is None:
            shown = VALUE_LABELS.get(value, value.replace("_", " "))
            if len(_SHOWN) < _CACHE_SIZE:
                _SHOWN[value] = shown
        return shown
    if value is None:
        return "not set"
    if cls is bool:
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, str):
        return show(str(value))
    if isinstance(value, list | tuple | set | frozenset):
        return show_list(list(value))
    return str(value)


def show_list(values: Sequence[Any]) -> str:
    """``"fido2, sms"``; ``"none"`` for an empty list."""
    return ", ".join(show(v) for v in values) if values else "none"


def days_ago(days: int) -> str:
    """``"today"``, ``"1 day ago"``, ``"12 days ago"``, ``"in 3 days"``."""
    if days == 0:
        return "today"
    if days < 0:
        return f"in {-days} day{'' if days == -1 else 's'}"
    return f"{days} day{'' if days == 1 else 's'} ago"


def source_name(source: str) -> str:
    """``"api:microsoft_graph"`` -> ``"Microsoft Graph"``; ``"attested"`` stays."""
    if source.startswith("api:"):
        return source[4:].replace("_", " ").title()
    return source


def provenance_note(prov: Provenance, now: datetime) -> str:
    """`` (attested 12 days ago)``, `` (read from Microsoft Graph today)``, or nothing.

    Memoised by identity: every leaf of one group on one account shares the ``Provenance``
    object, so the sentence is made once per group and account, not once per comparison. The
    entry holds the object itself, so its ``id`` cannot be reused while it is cached.
    """
    entry = _NOTES.get(id(prov))
    if entry is not None and entry[0] is prov and entry[1] is now:
        return entry[2]
    text = _note(prov, now)
    if len(_NOTES) >= _CACHE_SIZE:
        _NOTES.clear()
    _NOTES[id(prov)] = (prov, now, text)
    return text


def _note(prov: Provenance, now: datetime) -> str:
    if prov.source in _QUIET_SOURCES:
        return ""
    when = (
        "at an unknown time"
        if prov.observed_at is None
        else days_ago((now - prov.observed_at).days)
    )
    if prov.source == "attested":
        return f" (attested {when})"
    return f" (read from {source_name(prov.source)} {when})"


def never_recorded(group: Group) -> str:
    """``"Recovery facts were never recorded"``."""
    return f"{GROUP_LABELS.get(group, group.value)} facts were never recorded"


def unavailable(group: Group, prov: Provenance) -> str:
    """Why a group's facts cannot be used: the source's refusal, or the facts being missing."""
    reason = prov.reason or "no reason given"
    if prov.status == "error":
        if prov.source.startswith("api:"):
            return f"{source_name(prov.source)} refused: {reason}"
        return f"{GROUP_LABELS.get(group, group.value)} facts could not be read: {reason}"
    return f"{GROUP_LABELS.get(group, group.value)} facts are missing: {reason}"
