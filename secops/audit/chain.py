"""Hashing for the audit trail: RFC 8785 leaves, a linked chain, and RFC 6962 Merkle roots."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import rfc8785

CHAIN_DOMAIN = b"secops-audit-v1"
GENESIS = bytes(32)


def canonical_event(fields: Mapping[str, Any]) -> bytes:
    """The RFC 8785 (JCS) bytes of an event's hashed fields."""
    return rfc8785.dumps(_jsonable(fields))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
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
    return hashlib.sha256(b"\x00" + canonical).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    """Link a leaf to everything before it."""
    return hashlib.sha256(CHAIN_DOMAIN + previous + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle tree hash of the leaf hashes (SHA-256 of nothing for an empty tree)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        # RFC 6962 splits at the largest power of two below n; pairing left to right and
        # promoting an odd last node gives the same root.
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


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
        "details": _jsonable(details),
    }
