"""The one table that maps a second-factor method string to its strength tier.

Keys are compared case-insensitively after dropping spaces, dashes and underscores, so
``"FIDO2"``, ``"security_key"`` and ``"Security key"`` land on the same entry. Anything not in the
table is ``unknown``: a new or misspelt method never passes as a strong one.

Sources: Microsoft Graph ``userRegistrationDetails.methodsRegistered`` and
``userPreferredMethodForSecondaryAuthentication`` values (posture-and-policy.md, section e);
Google Workspace 2SV factors; the terms the social platforms use in their security settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from secops.accounts.models import MfaStrength

_PR = MfaStrength.PHISHING_RESISTANT
_PUSH = MfaStrength.APP_PUSH
_TOTP = MfaStrength.TOTP
_PHONE = MfaStrength.PHONE_EMAIL
_NONE = MfaStrength.NONE

# Microsoft Graph methodsRegistered (and the secondary-auth preference values).
GRAPH_METHODS: Final[dict[str, MfaStrength]] = {
    "fido2": _PR,
    "fido2SecurityKey": _PR,
    "windowsHelloForBusiness": _PR,
    "passKeyDeviceBound": _PR,
    "passKeyDeviceBoundAuthenticator": _PR,
    "passKeyDeviceBoundWindowsHello": _PR,
    "passKeySynced": _PR,
    "macOsSecureEnclaveKey": _PR,
    "x509Certificate": _PR,
    "microsoftAuthenticatorPush": _PUSH,
    "microsoftAuthenticatorPasswordless": _PUSH,
    "push": _PUSH,
    # authenticationMethodsPolicy configuration ids (the methods a tenant allows).
    "microsoftAuthenticator": _PUSH,
    "softwareOath": _TOTP,
    "softwareOneTimePasscode": _TOTP,
    "hardwareOneTimePasscode": _TOTP,
    "oath": _TOTP,
    "mobilePhone": _PHONE,
    "alternateMobilePhone": _PHONE,
    "officePhone": _PHONE,
    "voiceMobile": _PHONE,
    "voiceAlternateMobile": _PHONE,
    "voiceOffice": _PHONE,
    "sms": _PHONE,
    "email": _PHONE,
    # A one-time pass to enrol a factor, and knowledge questions: neither is a second factor.
    "temporaryAccessPass": _NONE,
    "securityQuestion": _NONE,
    "none": _NONE,
}

# Google Workspace 2SV factors, and the words the social platforms use in their settings.
COMMON_TERMS: Final[dict[str, MfaStrength]] = {
    "security_key": _PR,
    "hardware_security_key": _PR,
    "passkey": _PR,
    "webauthn": _PR,
    "u2f": _PR,
    "google_prompt": _PUSH,
    "app_push": _PUSH,
    "login_approval": _PUSH,  # Facebook/Instagram "login requests" from a trusted device
    "authenticator_app": _TOTP,
    "totp": _TOTP,
    "backup_codes": _NONE,  # a recovery mechanism, not a sign-in factor
    "voice": _PHONE,
    "phone": _PHONE,
    "text_message": _PHONE,
    "whatsapp": _PHONE,
    "email_code": _PHONE,
    "telegram_password": _NONE,  # Telegram's "two-step verification" is a second password
}


def _key(method: str) -> str:
    return "".join(ch for ch in method.casefold() if ch not in " -_")


_TABLE: Final[dict[str, MfaStrength]] = {
    _key(name): strength for name, strength in (GRAPH_METHODS | COMMON_TERMS).items()
}


def strength_of(method: str) -> MfaStrength:
    """The strength tier of a method string; ``unknown`` for anything not in the table."""
    return _TABLE.get(_key(method), MfaStrength.UNKNOWN)


def best_strength(strengths: Iterable[MfaStrength]) -> MfaStrength:
    """The strongest tier among ``strengths``; ``none`` when there are none."""
    # Rows read back hold plain strings; MfaStrength() maps them onto the enum first.
    return max((MfaStrength(s) for s in strengths), key=lambda s: s.rank, default=MfaStrength.NONE)


KNOWN_METHODS: Final = tuple(sorted(GRAPH_METHODS | COMMON_TERMS))
