"""API key tokens: ``secops_k_<id>_<secret>_<checksum>``, shaped for secret scanners.

The checksum is CRC32 of everything before it, in six base62 digits (GitHub's design), so a
scanner or the server rejects a mistyped or truncated token without a database lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass
from typing import Final

API_KEY_PREFIX: Final = "secops_k_"
PUBLIC_ID_LENGTH: Final = 12
CHECKSUM_LENGTH: Final = 6
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# token_urlsafe(32) yields 43 characters, '_' and '-' included; the id and checksum have none.
_TOKEN_RE: Final = re.compile(
    rf"^{API_KEY_PREFIX}(?P<id>[0-9A-Za-z]{{{PUBLIC_ID_LENGTH}}})_"
    rf"(?P<secret>[A-Za-z0-9_-]{{43}})_(?P<crc>[0-9A-Za-z]{{{CHECKSUM_LENGTH}}})$"
)


@dataclass(frozen=True, slots=True)
class KeyToken:
    """A parsed token: the public id to look up and the secret to hash."""

    public_id: str
    secret: str


def base62(value: int, width: int) -> str:
    """``value`` in base62, left-padded to ``width`` digits."""
    digits = []
    while value:
        value, rest = divmod(value, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    """CRC32 of ``body`` in six base62 digits."""
    return base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def new_public_id() -> str:
    """A short random id that names the key in the token, lists and logs."""
    return "".join(secrets.choice(_BASE62) for _ in range(PUBLIC_ID_LENGTH))


def new_token() -> tuple[str, KeyToken]:
    """A fresh token and its parts: 256 random bits of secret."""
    parts = KeyToken(public_id=new_public_id(), secret=secrets.token_urlsafe(32))
    body = f"{API_KEY_PREFIX}{parts.public_id}_{parts.secret}"
    return f"{body}_{checksum(body)}", parts


def looks_like_api_key(token: str) -> bool:
    """True if ``token`` carries the API key prefix (it may still be malformed)."""
    return token.startswith(API_KEY_PREFIX)


def parse_token(token: str) -> KeyToken | None:
    """The token's parts, or None when the shape or the checksum is wrong."""
    match = _TOKEN_RE.fullmatch(token)
    if match is None:
        return None
    body = token[: -(CHECKSUM_LENGTH + 1)]
    if not secrets.compare_digest(checksum(body), match["crc"]):
        return None
    return KeyToken(public_id=match["id"], secret=match["secret"])


def hash_secret(secret: str) -> bytes:
    """What the database keeps: SHA-256 of the secret part."""
    return hashlib.sha256(secret.encode("ascii")).digest()
