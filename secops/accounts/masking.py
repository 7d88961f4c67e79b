"""Masked forms of recovery details, for callers without ``accounts:secrets:read`` and for audit.

The masks keep just enough to recognise a value (the first letter and the domain of an address;
the first two and last two digits of a number) and hide the length of what they hide.
"""

from __future__ import annotations

DOT = "\u2022"


def email_domain(email: str) -> str:
    """The lower-case domain of an address."""
    return email.rpartition("@")[2].lower()


def mask_email(email: str) -> str:
    """``alice@gmail.com`` → ``a•••@gmail.com``."""
    local, _, domain = email.rpartition("@")
    first = local[:1] if local else ""
    return f"{first}{DOT * 3}@{domain.lower()}"


def mask_phone(phone: str) -> str:
    """``+33612345612`` → ``+33 •• •• •• 12`` (the same shape whatever the number's length)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 4:
        return f"+{DOT * 2}"
    pair = DOT * 2
    return f"+{digits[:2]} {pair} {pair} {pair} {digits[-2:]}"
