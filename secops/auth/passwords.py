"""Passwords: argon2id hashing under a concurrency bound, and the rules a new password must pass.

Verification is exact (no truncation, no case folding, no normalisation): argon2 hashes every
byte. Unknown users are verified against a dummy hash with the same parameters, so a sign-in
costs the same time whether or not the account exists.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from secops.core.config import Settings
from secops.core.errors import ServiceUnavailable, ValidationFailed

MIN_LENGTH: Final = 8
# NIST and ASVS ask that at least 64 be allowed; longer than this is refused before hashing.
MAX_LENGTH: Final = 128
# Context words shorter than this ("of", "in", "fr") would refuse too much.
MIN_CONTEXT_WORD: Final = 4
# How long a request waits for a hashing slot before answering 503.
HASH_SLOT_TIMEOUT_SECONDS: Final = 30.0
_WORD_SPLIT = re.compile(r"[\W_]+")


class PasswordRejected(ValidationFailed):
    """A new password breaks a rule; the detail names the field and the rule, never the value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            f"{field}: {message}",
            errors=[{"loc": ["body", field], "msg": message, "type": "password_policy"}],
        )


# --- hashing ---------------------------------------------------------------------------------


@cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher_for(settings: Settings) -> PasswordHasher:
    """The argon2id hasher for the configured parameters."""
    return _hasher(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _slots_for(settings: Settings) -> threading.BoundedSemaphore:
    # One bound per process and limit: argon2 takes 64 MiB a call, so a login flood must queue.
    with _slots_lock:
        return _slots.setdefault(
            settings.argon2_max_concurrent,
            threading.BoundedSemaphore(settings.argon2_max_concurrent),
        )


class _HashSlot:
    def __init__(self, settings: Settings) -> None:
        self.semaphore = _slots_for(settings)

    def __enter__(self) -> None:
        if not self.semaphore.acquire(timeout=HASH_SLOT_TIMEOUT_SECONDS):
            raise ServiceUnavailable("Too many sign-ins at once; try again in a moment.")

    def __exit__(self, *_exc: object) -> None:
        self.semaphore.release()


@cache
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    hasher = _hasher(time_cost, memory_kib, parallelism)
    return hasher.hash(secrets.token_urlsafe(24))


def dummy_hash(settings: Settings) -> str:
    """A hash of a random password nobody knows, with the configured parameters."""
    return _dummy_hash(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )


def hash_password(settings: Settings, password: str) -> str:
    """The argon2id hash of ``password`` (length checked first: nothing long is hashed)."""
    if len(password) > MAX_LENGTH:
        raise PasswordRejected("password", f"must have at most {MAX_LENGTH} characters.")
    hasher = hasher_for(settings)
    with _HashSlot(settings):
        return hasher.hash(password)


def verify_password(settings: Settings, password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; with no hash, a dummy is verified so timing is the same."""
    if len(password) > MAX_LENGTH:
        return False
    hasher = hasher_for(settings)
    target = password_hash or dummy_hash(settings)
    with _HashSlot(settings):
        try:
            hasher.verify(target, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return password_hash is not None


def needs_rehash(settings: Settings, password_hash: str) -> bool:
    """True when the stored hash was made with other parameters than the configured ones."""
    return hasher_for(settings).check_needs_rehash(password_hash)


# --- rules for new passwords -----------------------------------------------------------------


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower case."""
    text = (resources.files("secops.auth.data") / "common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def context_words(phrases: Iterable[str]) -> frozenset[str]:
    """Words a password may not contain: each word of 4+ characters, and each whole phrase."""
    words: set[str] = set()
    for phrase in phrases:
        folded = phrase.casefold()
        parts = [p for p in _WORD_SPLIT.split(folded) if p]
        words.update(p for p in parts if len(p) >= MIN_CONTEXT_WORD)
        joined = "".join(parts)
        if len(joined) >= MIN_CONTEXT_WORD:
            words.add(joined)
    return frozenset(words)


def check_new_password(password: str, *, context: Iterable[str], field: str = "password") -> None:
    """Refuse a password that is too short or long, common, or built on a context word."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(field, f"must have at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(field, f"must have at most {MAX_LENGTH} characters.")
    folded = password.casefold()
    if folded in common_passwords():
        raise PasswordRejected(field, "is on the list of commonly used or breached passwords.")
    squeezed = "".join(p for p in _WORD_SPLIT.split(folded) if p)
    for word in context_words(context):
        if word in folded or word in squeezed:
            raise PasswordRejected(
                field, "contains the name of the ministry, a mission, a city or your username."
            )
