"""Usernames: compared after NFKC normalisation and case folding, so look-alikes collide."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from secops.core.errors import ValidationFailed

MIN_LENGTH: Final = 3
MAX_LENGTH: Final = 64
# Letters and digits of any script, plus . _ - @; no spaces, no control characters.
_ALLOWED: Final = re.compile(r"[\w.@-]+")


def username_key(raw: str) -> str:
    """The form uniqueness and sign-in compare: NFKC, then case-folded, then NFKC again."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw.strip()).casefold())


def checked_username(raw: str, *, field: str = "username") -> tuple[str, str]:
    """The username as stored (NFKC) and its key; 422 naming ``field`` if it breaks a rule."""
    display = unicodedata.normalize("NFKC", raw.strip())
    key = username_key(raw)
    if not MIN_LENGTH <= len(key) <= MAX_LENGTH or not MIN_LENGTH <= len(display) <= MAX_LENGTH:
        message = f"must have {MIN_LENGTH} to {MAX_LENGTH} characters."
    elif not _ALLOWED.fullmatch(display) or not _ALLOWED.fullmatch(key):
        message = "may contain only letters, digits and . _ - @"
    else:
        return display, key
    raise ValidationFailed(
        f"{field}: {message}",
        errors=[{"loc": ["body", field], "msg": message, "type": "username_policy"}],
    )
