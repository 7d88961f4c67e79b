"""Recompute the audit trail from its rows and check it against every signed checkpoint.

The verifier streams events in seq order and recomputes, for each, the leaf hash from the row's
contents and the chain hash from the previous link; it keeps the RFC 6962 frontier, so the root
at any checkpoint's size costs a few hashes. Checkpoints come from the database and from the
export file outside it; the export file catches a rewrite of the whole database (a fresh, valid
chain), a tail cut below an exported size, and a swapped signing key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from secops.audit import chain, rows, signing
from secops.core.config import Settings


class VerificationFailed(Exception):
    """The trail does not verify; ``seq`` is the first bad event when one can be named."""

    def __init__(self, reason: str, seq: int | None = None) -> None:
        self.reason = reason
        self.seq = seq
        super().__init__(reason)


@dataclass(frozen=True)
class Claim:
    """A signed statement that the first ``tree_size`` leaves have root ``root_hash``."""

    tree_size: int
    root_hash: bytes
    source: str
    # Stored checkpoints keep the tree's right edge for the next one; it must match too.
    frontier: bytes | None = None


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification."""

    ok: bool
    events: int
    checkpoints: int
    exported: int
    first_bad_seq: int | None = None
    reason: str | None = None

    def summary(self) -> str:
        """One line for people."""
        if self.ok:
            return (
                f"ok: {self.events} events, {self.checkpoints} checkpoints verified "
                f"({self.exported} exported)"
            )
        if self.first_bad_seq is not None:
            return f"FAIL: first bad seq {self.first_bad_seq}: {self.reason}"
        return f"FAIL: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)


class ChainVerifier:
    """Checks events fed in seq order against the chain and the claims."""

    def __init__(
        self,
        claims: Iterable[Claim],
        *,
        previous: bytes = chain.GENESIS,
        frontier: chain.MerkleFrontier | None = None,
    ) -> None:
        self.previous = previous
        self.frontier = frontier or chain.MerkleFrontier()
        self.start = self.frontier.size
        self.claims: dict[int, list[Claim]] = {}
        for claim in claims:
            self.claims.setdefault(claim.tree_size, []).append(claim)
        self.sizes = frozenset(self.claims)
        self.verified_size = self.start
        self._check_claims()

    def feed(self, seq: Any, canonical: bytes, leaf: Any, chain_hash: Any) -> None:
        """Check one event (its canonical bytes): its place, its leaf hash, its link; then any
        claim at its size."""
        self.check_seq(seq)
        recomputed = chain.leaf_hash(canonical)
        if recomputed != leaf:
            raise VerificationFailed("the leaf hash does not match the event's contents", seq)
        linked = chain.chain_hash(self.previous, recomputed)
        if linked != chain_hash:
            raise VerificationFailed("the chain hash does not link to the previous event", seq)
        self.previous = linked
        self.frontier.append(recomputed)
        if self.frontier.size in self.sizes:
            self._check_claims()

    def check_seq(self, seq: Any) -> None:
        """The next event must carry the next seq."""
        expected = self.frontier.size + 1
        if seq != expected:
            if isinstance(seq, int) and seq > expected:
                raise VerificationFailed(f"event {expected} is missing (next is {seq})", expected)
            raise VerificationFailed(f"an event is out of place (seq {seq!r})", expected)

    def _check_claims(self) -> None:
        size = self.frontier.size
        claims = self.claims.get(size, ())
        if not claims:
            return
        root = self.frontier.root()
        for claim in claims:
            if claim.root_hash != root:
                low = self.verified_size + 1 if size else 0
                raise VerificationFailed(
                    f"the {claim.source} at tree size {size} does not match the events "
                    f"(an event between seq {low} and {size} was changed or replaced)"
                )
            if claim.frontier is not None and claim.frontier != self.frontier.to_bytes():
                raise VerificationFailed(
                    f"the {claim.source} at tree size {size} keeps a wrong tree frontier"
                )
        self.verified_size = size

    def finish(self) -> None:
        """After the last event: no claim may cover events that are not there."""
        beyond = [s for s in self.sizes if s > self.frontier.size]
        if beyond:
            largest = max(beyond)
            source = self.claims[largest][0].source
            raise VerificationFailed(
                f"the trail ends at seq {self.frontier.size} but a {source} covers "
                f"{largest} events (the tail was removed)",
                self.frontier.size + 1,
            )


def claim_from_note(
    note: Any,
    verifier: signing.VerifierKey,
    source: str,
    *,
    tree_size: Any,
    root_hash: Any,
    columns: dict[str, Any] | None = None,
    frontier: bytes | None = None,
) -> Claim:
    """Open a signed checkpoint; it must be signed by ``verifier`` and agree with its fields
    (and, for a stored one, with its signature, key ID and origin columns)."""
    if not isinstance(note, str):
        raise VerificationFailed(f"the {source} has no signed note")
    try:
        content, signature = signing.open_checkpoint_with_signature(note, verifier)
    except signing.NoteError as exc:
        raise VerificationFailed(f"the {source} at tree size {tree_size}: {exc}") from None
    if content.origin != verifier.name:
        raise VerificationFailed(f"the {source} names another log ({content.origin})")
    expected = {"signature": signature, "key_id": verifier.key_id, "origin": content.origin}
    if (
        content.tree_size != tree_size
        or content.root_hash != root_hash
        or any(expected[name] != value for name, value in (columns or {}).items())
    ):
        raise VerificationFailed(f"the {source} at tree size {tree_size} differs from its note")
    return Claim(content.tree_size, content.root_hash, source, frontier)


def exported_claims(path: Path, verifier: signing.VerifierKey | None) -> list[Claim]:
    """Every checkpoint in the export file, signatures checked."""
    if not path.exists():
        return []
    claims = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            source = f"exported checkpoint (line {number})"
            try:
                record = json.loads(line)
                root = base64.b64decode(record["root_hash"], validate=True)
                size = record["tree_size"]
                note = record["note"]
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise VerificationFailed(f"the {source} is not a checkpoint record") from None
            if verifier is None:
                raise VerificationFailed("the signing key is missing; checkpoints cannot be read")
            claims.append(claim_from_note(note, verifier, source, tree_size=size, root_hash=root))
    return claims


def stored_claims(engine: Engine, verifier: signing.VerifierKey | None) -> list[Claim]:
    """Every checkpoint in the database, signatures checked."""
    found = rows.stored_checkpoint_rows(engine)
    if not found:
        return []
    if verifier is None:
        raise VerificationFailed("the signing key is missing; checkpoints cannot be read")
    return [
        claim_from_note(
            note,
            verifier,
            "stored checkpoint",
            tree_size=size,
            root_hash=bytes(root),
            columns={"signature": bytes(sig), "key_id": bytes(key_id), "origin": origin},
            frontier=bytes(frontier),
        )
        for size, root, note, sig, key_id, origin, frontier in found
    ]


def verifier_key_for(settings: Settings) -> signing.VerifierKey | None:
    """The public half of the configured signing key, or None if there is no key yet."""
    path = settings.effective_audit_signing_key_file
    if not path.exists():
        return None
    return signing.load_signer(path).verifier


def verify_database(
    engine: Engine,
    settings: Settings,
    *,
    verifier: signing.VerifierKey | None = None,
    export_file: Path | None = None,
) -> VerifyReport:
    """Verify the stored trail against stored and exported checkpoints."""
    verifier = verifier or verifier_key_for(settings)
    export_file = export_file or settings.effective_audit_export_file
    events = stored = exported = 0
    try:
        stored_list = stored_claims(engine, verifier)
        exported_list = exported_claims(export_file, verifier)
        stored, exported = len(stored_list), len(exported_list)
        if stored and not exported:
            raise VerificationFailed(
                f"the database holds {stored} checkpoints but the export file {export_file} "
                "holds none (deleted or moved?)"
            )
        state = ChainVerifier([*stored_list, *exported_list])
        stream = rows.event_rows(engine)
        while True:
            try:
                row = next(stream, None)
            except engine.dialect.loaded_dbapi.Error as exc:
                raise VerificationFailed(
                    f"the events after seq {events} cannot be read ({type(exc).__name__})"
                ) from exc
            if row is None:
                break
            state.check_seq(row[0])
            try:
                canonical = rows.canonical_of_row(row)
            except (ValueError, TypeError) as exc:
                raise VerificationFailed("the stored event cannot be read", row[0]) from exc
            state.feed(row[0], canonical, row[12], row[13])
            events += 1
        state.finish()
    except VerificationFailed as failure:
        return VerifyReport(False, events, stored, exported, failure.seq, failure.reason)
    return VerifyReport(True, events, stored, exported)
