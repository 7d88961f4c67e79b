"""A refusal that must be recorded: the route commits the audit row, then raises the error.

A raised error rolls the request's transaction back, which would also erase the failure count
and the audit event of a failed sign-in. Services therefore return ``Refused`` instead of
raising, and the HTTP layer commits before turning it into the error response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlmodel import Session

from secops.core.errors import SecopsError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Refused:
    """The service refused; its records are flushed and must be committed before ``error``."""

    error: SecopsError


def settle(session: Session, outcome: T | Refused) -> T:
    """Return the result, or commit the recorded refusal and raise its error."""
    if isinstance(outcome, Refused):
        session.commit()
        raise outcome.error
    return outcome
