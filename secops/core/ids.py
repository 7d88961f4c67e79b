"""Fresh row ids for a bulk write: random version-4 UUIDs, handed out in increasing order.

Each id is as random as ``new_id()``'s (16 bytes from the system's random source, version and
variant bits set as ``uuid.uuid4()`` sets them); only the order in which one batch is handed out
is sorted. Rows then reach the primary-key and ``account_id`` indexes in key order, appended at
the right edge instead of scattered over the whole tree, which makes a large import's writes
cheaper on both databases.
"""

from __future__ import annotations

import os
import uuid
from typing import Final

BATCH: Final = 1 << 16


def _random_bytes(count: int) -> bytes:
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])
    return bytes(raw)


def ordered_ids(count: int) -> list[uuid.UUID]:
    """``count`` fresh ids, smallest first."""
    data = _random_bytes(count)
    # Bytes compare as the UUIDs they encode, and much faster.
    return [uuid.UUID(bytes=b) for b in sorted(data[i : i + 16] for i in range(0, 16 * count, 16))]


def ordered_hex_ids(count: int) -> list[str]:
    """``count`` fresh ids in SQLite's stored form (32 hex digits), smallest first."""
    text = _random_bytes(count).hex()
    return sorted(text[i : i + 32] for i in range(0, 32 * count, 32))
