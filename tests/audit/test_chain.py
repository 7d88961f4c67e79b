"""Leaf, chain and Merkle hashing: RFC 6962 vectors and a recursive reference implementation."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secops.audit import chain

# RFC 6962 test vectors (as used by Certificate Transparency and Go's tlog): the inputs of eight
# leaves and the tree hash of the first 1..8 of them.
RFC6962_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
RFC6962_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

hashes = st.binary(min_size=32, max_size=32)


def reference_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 section 2.1, written as the RFC states it: split at the largest power of two."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(
        b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])
    ).digest()


def test_leaf_hash_prefixes_a_zero_byte() -> None:
    assert chain.leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()


def test_chain_hash_links_previous_and_leaf_under_the_domain_tag() -> None:
    previous, leaf = b"\x01" * 32, b"\x02" * 32
    assert (
        chain.chain_hash(previous, leaf)
        == hashlib.sha256(b"secops-audit-v1" + previous + leaf).digest()
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_merkle_root_matches_the_rfc6962_vectors(size: int) -> None:
    leaves = [chain.leaf_hash(bytes.fromhex(x)) for x in RFC6962_LEAVES[:size]]
    assert chain.merkle_root(leaves).hex() == RFC6962_ROOTS[size - 1]


def test_empty_tree_hashes_to_sha256_of_nothing() -> None:
    assert chain.merkle_root([]) == hashlib.sha256(b"").digest()
    assert chain.MerkleFrontier().root() == hashlib.sha256(b"").digest()


@given(st.lists(hashes, max_size=70))
def test_merkle_root_equals_the_recursive_reference(leaves: list[bytes]) -> None:
    assert chain.merkle_root(leaves) == reference_root(leaves)


@given(st.lists(hashes, max_size=70))
def test_frontier_gives_the_reference_root_at_every_size(leaves: list[bytes]) -> None:
    frontier = chain.MerkleFrontier()
    for size, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        assert frontier.size == size
        assert frontier.root() == reference_root(leaves[:size])


@given(st.lists(hashes, max_size=40), st.lists(hashes, max_size=40))
def test_frontier_survives_a_round_trip_through_bytes(
    first: list[bytes], then: list[bytes]
) -> None:
    frontier = chain.MerkleFrontier()
    for leaf in first:
        frontier.append(leaf)
    restored = chain.MerkleFrontier.from_bytes(frontier.size, frontier.to_bytes())
    for leaf in then:
        restored.append(leaf)
    assert restored.root() == reference_root(first + then)


def test_frontier_refuses_a_subtree_count_that_does_not_match_its_size() -> None:
    with pytest.raises(ValueError, match="one subtree per set bit"):
        chain.MerkleFrontier(3, [b"\x00" * 32])
    with pytest.raises(ValueError, match="whole number of hashes"):
        chain.MerkleFrontier.from_bytes(1, b"\x00" * 31)


def test_timestamps_hash_in_utc_with_microseconds() -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 1, 15, 10, 0, 0, 5, tzinfo=paris)
    assert chain.format_ts(moment) == "2026-01-15T09:00:00.000005Z"


def test_jsonable_turns_uuids_datetimes_and_floats_into_text() -> None:
    ident = uuid.UUID(int=7)
    moment = datetime(2026, 1, 15, tzinfo=UTC)
    value = chain.jsonable({"id": ident, "at": moment, "score": 0.1, "tags": ("a", 1)})
    assert value == {
        "id": str(ident),
        "at": "2026-01-15T00:00:00.000000Z",
        "score": "0.1",
        "tags": ["a", 1],
    }


def test_hashed_fields_cover_every_column_but_the_hashes() -> None:
    fields = chain.hashed_fields(
        seq=1,
        ts=datetime(2026, 1, 15, tzinfo=UTC),
        actor="user:alice",
        actor_id=None,
        mission_id=None,
        action="mission.create",
        object_type="mission",
        object_id=None,
        outcome="success",
        request_id=None,
        source_ip=None,
        details={},
    )
    assert tuple(fields) == chain.HASHED_FIELDS
