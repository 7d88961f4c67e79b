"""Opaque keyset cursors and page limits."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from secops.core.errors import BadRequest

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def clamp_limit(limit: int | None) -> int:
    """Cap the page size; a huge ``limit`` is served as the maximum, not refused."""
    if limit is None:
        return DEFAULT_PAGE_SIZE
    return max(1, min(limit, MAX_PAGE_SIZE))


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for the last row's sort key."""
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, arity: int) -> list[Any]:
    """Read a cursor back; anything malformed is a 400, never a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("The cursor is not valid; start again from the first page.") from None
    if not isinstance(values, list) or len(values) != arity:
        raise BadRequest("The cursor is not valid; start again from the first page.")
    return values


class Page(BaseModel, Generic[T]):
    """One page of results and the cursor for the next."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None
