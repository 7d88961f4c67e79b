"""API key token format: prefix, public id, 256-bit secret, CRC32 checksum scanners can verify."""

from __future__ import annotations

import re
import zlib

from hypothesis import given
from hypothesis import strategies as st

from secops.auth.access import tokens

TOKEN_SHAPE = re.compile(r"^secops_k_[0-9A-Za-z]{12}_[A-Za-z0-9_-]{43}_[0-9A-Za-z]{6}$")
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"


def test_token_has_the_scanner_friendly_shape() -> None:
    token, parts = tokens.new_token()
    assert TOKEN_SHAPE.fullmatch(token)
    assert token.startswith(f"secops_k_{parts.public_id}_{parts.secret}_")


def test_checksum_is_crc32_of_the_rest_in_base62() -> None:
    token, _ = tokens.new_token()
    body, crc = token[:-7], token[-6:]
    value = 0
    for char in crc:
        value = value * 62 + BASE62.index(char)
    assert value == zlib.crc32(body.encode())


def test_tokens_are_unique() -> None:
    made = {tokens.new_token()[0] for _ in range(2000)}
    assert len(made) == 2000


def test_parse_returns_the_parts_of_a_valid_token() -> None:
    token, parts = tokens.new_token()
    assert tokens.parse_token(token) == parts


@given(position=st.integers(min_value=9, max_value=9 + 12 + 1 + 43 + 1 + 6 - 1), data=st.data())
def test_any_single_character_change_is_rejected(position: int, data: st.DataObject) -> None:
    token, _ = tokens.new_token()
    replacement = data.draw(st.sampled_from([c for c in ALPHABET if c != token[position]]))
    mutated = token[:position] + replacement + token[position + 1 :]
    assert tokens.parse_token(mutated) is None


def test_malformed_tokens_are_rejected_without_error() -> None:
    token, _ = tokens.new_token()
    for bad in ["", "secops_k_", token[:-1], token + "x", token.replace("secops_k_", "secops_s_")]:
        assert tokens.parse_token(bad) is None


def test_the_stored_hash_is_sha256_of_the_secret() -> None:
    _, parts = tokens.new_token()
    digest = tokens.hash_secret(parts.secret)
    assert len(digest) == 32
    assert parts.secret.encode() not in digest
