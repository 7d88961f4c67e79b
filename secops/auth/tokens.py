"""Random credentials: session tokens, one-time account tokens, recovery and bootstrap codes.

Every one comes from ``secrets`` and only its SHA-256 is stored. SHA-256 without salt is enough
here: each value carries at least 128 random bits, so there is nothing to guess (ASVS 6.5.2).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Final

SESSION_PREFIX: Final = "secops_s_"
API_KEY_PREFIX: Final = "secops_k_"
# Short-lived bearer tokens an API key is exchanged for.
KEY_TOKEN_PREFIX: Final = "secops_t_"  # noqa: S105 - a prefix
# Invitation and reset tokens an administrator hands to a user.
ACCOUNT_TOKEN_PREFIX: Final = "secops_r_"  # noqa: S105 - a prefix
RECOVERY_CODE_COUNT: Final = 10

_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz234567"
_GROUP: Final = 4
_GROUPS: Final = 7  # 28 base32 characters: 140 random bits
_CODE: Final = re.compile(rf"[a-z2-7]{{{_GROUP * _GROUPS}}}")


def digest(value: str) -> bytes:
    """SHA-256 of a token or normalised code: what the database stores."""
    return hashlib.sha256(value.encode("utf-8")).digest()


def new_session_token() -> str:
    """``secops_s_`` and 256 random bits."""
    return SESSION_PREFIX + secrets.token_urlsafe(32)


def new_key_token() -> str:
    """``secops_t_`` and 256 random bits: what an API key is exchanged for."""
    return KEY_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_account_token() -> str:
    """``secops_r_`` and 256 random bits: an invitation or reset token."""
    return ACCOUNT_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_code() -> str:
    """A code people can copy by hand: seven groups of four base32 characters (140 bits)."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(_GROUP * _GROUPS))
    return "-".join(chars[i : i + _GROUP] for i in range(0, len(chars), _GROUP))


def normalise_code(raw: str) -> str | None:
    """The canonical form of a typed code (no dashes or spaces, lower case), None if malformed."""
    squeezed = raw.replace("-", "").replace(" ", "").lower()
    if not squeezed.isascii() or not _CODE.fullmatch(squeezed):
        return None
    return squeezed


def code_digest(raw: str) -> bytes | None:
    """SHA-256 of a typed code's canonical form, None if it cannot be a code."""
    normalised = normalise_code(raw)
    return digest(normalised) if normalised else None


def new_recovery_codes() -> list[str]:
    """A fresh set of recovery codes, shown once."""
    return [new_code() for _ in range(RECOVERY_CODE_COUNT)]
