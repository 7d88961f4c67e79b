"""Export the trail as JSON lines that can be verified offline, and verify such an export.

An export is a header, the signed checkpoints, then the events in their hashed form with their
leaf and chain hashes. An export that starts after seq 1 carries the chain hash and the Merkle
frontier just before its first event; they need no trust, because a later signed checkpoint
only matches if they are right.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import Engine

from secops.audit import chain, checkpoints, repository, rows, signing, verify
from secops.core.db import SessionFactory

BUNDLE_FORMAT = "secops-audit-export/1"


@dataclass(frozen=True)
class ExportStats:
    """What an export wrote."""

    events: int
    checkpoints: int


def _prefix(engine: Engine, from_seq: int) -> tuple[bytes, chain.MerkleFrontier]:
    frontier = chain.MerkleFrontier()
    previous = chain.GENESIS
    if from_seq <= 1:
        return previous, frontier
    for row in rows.event_rows(engine, columns="seq, leaf_hash, chain_hash", upto=from_seq - 1):
        frontier.append(bytes(row[1]))
        previous = bytes(row[2])
    return previous, frontier


def _dump(out: TextIO, record: dict[str, Any]) -> None:
    out.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")


def write_bundle(
    sessions: SessionFactory,
    out: TextIO,
    *,
    verifier: signing.VerifierKey | None,
    from_seq: int = 1,
) -> ExportStats:
    """Write the export to ``out``; checkpoints first, so a verifier reads the file once."""
    engine = sessions.engine
    previous, frontier = _prefix(engine, from_seq)
    _dump(
        out,
        {
            "type": "header",
            "format": BUNDLE_FORMAT,
            "verifier_key": verifier.encode() if verifier else None,
            "from_seq": max(from_seq, 1),
            "previous_chain_hash": previous.hex(),
            "frontier_size": frontier.size,
            "frontier": [subtree.hex() for subtree in frontier.subtrees],
        },
    )
    with sessions.begin() as session:
        stored = [
            checkpoints.export_record(c)
            for c in repository.stored_checkpoints(session)
            if c.tree_size >= frontier.size
        ]
    for record in stored:
        _dump(out, {"type": "checkpoint", **record})
    events = 0
    for row in rows.event_rows(engine, start=frontier.size + 1):
        fields = rows.fields_of_row(row)
        _dump(
            out,
            {"type": "event", **fields, "leaf_hash": row[12].hex(), "chain_hash": row[13].hex()},
        )
        events += 1
    return ExportStats(events=events, checkpoints=len(stored))


def _hex(value: Any, what: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except (TypeError, ValueError):
        raise verify.VerificationFailed(f"the export's {what} is not hexadecimal") from None


def _header(line: str) -> tuple[bytes, chain.MerkleFrontier]:
    try:
        header = json.loads(line)
        ok = header.get("type") == "header" and header.get("format") == BUNDLE_FORMAT
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        raise verify.VerificationFailed(f"the file is not a {BUNDLE_FORMAT} export")
    subtrees = [_hex(s, "frontier") for s in header.get("frontier") or []]
    try:
        frontier = chain.MerkleFrontier(int(header["frontier_size"]), subtrees)
    except (KeyError, TypeError, ValueError):
        raise verify.VerificationFailed("the export's frontier is malformed") from None
    return _hex(header.get("previous_chain_hash"), "previous chain hash"), frontier


def _claim(record: dict[str, Any], verifier: signing.VerifierKey, number: int) -> verify.Claim:
    source = f"checkpoint on line {number}"
    try:
        root = base64.b64decode(record["root_hash"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise verify.VerificationFailed(f"the {source} is malformed") from None
    return verify.claim_from_note(
        record.get("note"), verifier, source, tree_size=record.get("tree_size"), root_hash=root
    )


def verify_bundle(lines: Iterable[str], verifier: signing.VerifierKey) -> verify.VerifyReport:
    """Verify an export against the verifier key the auditor holds."""
    events = 0
    claims: list[verify.Claim] = []
    state: verify.ChainVerifier | None = None
    try:
        iterator = iter(enumerate(lines, start=1))
        _, first = next(iterator, (0, ""))
        previous, frontier = _header(first)
        for number, line in iterator:
            try:
                record = json.loads(line)
                kind = record.pop("type")
            except (ValueError, KeyError, AttributeError):
                raise verify.VerificationFailed(f"line {number} is not a record") from None
            if kind == "checkpoint":
                if state is not None:
                    raise verify.VerificationFailed(f"line {number}: checkpoints come first")
                claims.append(_claim(record, verifier, number))
                continue
            if kind != "event":
                raise verify.VerificationFailed(f"line {number} has an unknown type")
            if state is None:
                state = verify.ChainVerifier(claims, previous=previous, frontier=frontier)
            leaf = _hex(record.pop("leaf_hash", None), "leaf hash")
            linked = _hex(record.pop("chain_hash", None), "chain hash")
            state.check_seq(record.get("seq"))
            try:
                canonical = chain.canonical_event(record)
            except (ValueError, TypeError):
                raise verify.VerificationFailed(
                    f"line {number}: the event cannot be hashed"
                ) from None
            state.feed(record["seq"], canonical, leaf, linked)
            events += 1
        if state is None:
            state = verify.ChainVerifier(claims, previous=previous, frontier=frontier)
        state.finish()
    except verify.VerificationFailed as failure:
        return verify.VerifyReport(False, events, len(claims), 0, failure.seq, failure.reason)
    return verify.VerifyReport(True, events, len(claims), 0)
