"""Hashing for the audit trail: RFC 8785 leaves, a linked chain, and RFC 6962 Merkle roots."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import rfc8785

CHAIN_DOMAIN = b"secops-audit-v1"
GENESIS = bytes(32)
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# RFC 8785 numbers are IEEE doubles: integers outside this range have no exact JCS form.
_JCS_INT_MAX = 2**53 - 1
_sha256 = hashlib.sha256
_SURROGATES = re.compile("[\ud800-\udfff]")
_fast_dumps = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_event(fields: Mapping[str, Any]) -> bytes:
    """The RFC 8785 (JCS) bytes of an event's hashed fields."""
    if type(fields) is dict and _fast_safe(fields):
        # Already in stored form (what the verifier reads back): nothing to convert.
        return _fast_dumps(fields).encode("utf-8")
    return canonical_json(jsonable(fields))


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value; the standard library serialises our usual domain.

    For str/int/bool/None/list/dict with ASCII keys, ``json`` with sorted keys, compact separators
    and raw UTF-8 writes exactly what JCS writes (a hypothesis test proves it byte for byte).
    Non-ASCII keys (JCS orders them by UTF-16 code units), floats, huge integers and unpaired
    surrogates go to the reference implementation.
    """
    if _fast_safe(value):
        return _fast_dumps(value).encode("utf-8")
    return rfc8785.dumps(value)


def fast_json(value: Any) -> bytes:
    """``json``'s compact sorted form; RFC 8785 only for values ``canonical_json`` lets through."""
    return _fast_dumps(value).encode("utf-8")


def _fast_safe(value: Any) -> bool:
    """True if ``json`` serialises ``value`` exactly as RFC 8785 does."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            kind = type(item)
            if kind is str:
                if not _utf8_safe(item):
                    return False
            elif not (kind is bool or item is None or _fast_safe(item)):
                return False
        return True
    if kind is str:
        return _utf8_safe(value)
    if kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_JCS_INT_MAX <= value <= _JCS_INT_MAX)
    if kind is list:
        return all(_fast_safe(item) for item in value)
    return False


def _utf8_safe(text: str) -> bool:
    # An unpaired surrogate has no UTF-8 form: rfc8785 refuses it, so the fast path must too.
    return text.isascii() or not _SURROGATES.search(text)


def jsonable(value: Any) -> Any:
    """The JSON value that is stored and hashed for ``value`` (UUIDs, datetimes, floats as text)."""
    kind = type(value)
    # Exact type checks first: this runs for every event the verifier reads.
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {k if type(k) is str else str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, float):
        # Floats are kept out of the hashed form: their JSON text is not stable across languages.
        return repr(value)
    return value


def format_ts(value: datetime) -> str:
    """Timestamps in hashed form: UTC, microseconds, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaf_hash(canonical: bytes) -> bytes:
    """RFC 6962 leaf: SHA-256(0x00 ‖ entry)."""
    return _sha256(b"\x00" + canonical).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    """Link a leaf to everything before it."""
    return _sha256(CHAIN_DOMAIN + previous + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return _sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle tree hash of the leaf hashes (SHA-256 of nothing for an empty tree)."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        # RFC 6962 splits at the largest power of two below n; pairing left to right and
        # promoting an odd last node gives the same root.
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class MerkleFrontier:
    """The right edge of an RFC 6962 tree: one perfect subtree per set bit of its size.

    Appending costs one hash on average and the root costs one hash per set bit, so a verifier
    or a checkpoint never needs more than the leaves since the last frontier it saw.
    """

    __slots__ = ("size", "subtrees")

    def __init__(self, size: int = 0, subtrees: Iterable[bytes] = ()) -> None:
        self.size = size
        # Largest (leftmost) subtree first.
        self.subtrees = list(subtrees)
        if len(self.subtrees) != size.bit_count():
            raise ValueError("a frontier holds one subtree per set bit of its size")

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash."""
        node, size, subtrees = leaf, self.size, self.subtrees
        while size & 1:
            node = node_hash(subtrees.pop(), node)
            size >>= 1
        subtrees.append(node)
        self.size += 1

    def root(self) -> bytes:
        """The Merkle tree hash of every leaf appended so far."""
        if not self.subtrees:
            return EMPTY_ROOT
        root = self.subtrees[-1]
        for subtree in reversed(self.subtrees[:-1]):
            root = node_hash(subtree, root)
        return root

    def to_bytes(self) -> bytes:
        """The subtrees, concatenated (the size is stored beside them)."""
        return b"".join(self.subtrees)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> MerkleFrontier:
        """Rebuild a frontier stored with ``to_bytes``."""
        if len(data) % HASH_SIZE:
            raise ValueError("a frontier is a whole number of hashes")
        parts = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
        return cls(size, parts)


def hashed_fields(
    *,
    seq: int,
    ts: datetime,
    actor: str,
    actor_id: uuid.UUID | None,
    mission_id: uuid.UUID | None,
    action: str,
    object_type: str,
    object_id: str | None,
    outcome: str,
    request_id: str | None,
    source_ip: str | None,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """Exactly the fields the leaf hash covers, in hashed form."""
    return {
        "seq": seq,
        "ts": format_ts(ts),
        "actor": actor,
        "actor_id": str(actor_id) if actor_id else None,
        "mission_id": str(mission_id) if mission_id else None,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "outcome": outcome,
        "request_id": request_id,
        "source_ip": source_ip,
        "details": jsonable(details),
    }


HASHED_FIELDS = (
    "seq",
    "ts",
    "actor",
    "actor_id",
    "mission_id",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "request_id",
    "source_ip",
    "details",
)
