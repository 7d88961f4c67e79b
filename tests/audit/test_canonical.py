"""The fast canonical form is byte-for-byte RFC 8785 (checked against the rfc8785 package)."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from secops.audit import chain

SAFE_INT = 2**53 - 1

# Every character class that matters: ASCII, controls (escaped), DEL, Latin-1, the BMP above the
# surrogates (U+E000-U+FFFF sorts differently in UTF-16), and astral characters (surrogate pairs).
any_text = st.text(
    st.characters(codec="utf-8")
    | st.sampled_from(["\x00", "\x1f", "\x7f", "\ue000", "\U0001f600"]),
    max_size=12,
)
scalars = (
    st.none() | st.booleans() | st.integers(min_value=-SAFE_INT, max_value=SAFE_INT) | any_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_is_byte_identical_to_rfc8785(value: Any) -> None:
    assert chain.canonical_json(value) == rfc8785.dumps(value)


@given(st.dictionaries(any_text, json_values, max_size=6))
def test_canonical_event_is_rfc8785_of_the_jsonable_fields(fields: dict[str, Any]) -> None:
    assert chain.canonical_event(fields) == rfc8785.dumps(chain.jsonable(fields))


@given(st.dictionaries(any_text, scalars, min_size=2, max_size=6))
def test_non_ascii_keys_are_ordered_by_utf16_code_units(fields: dict[str, Any]) -> None:
    assert chain.canonical_json(fields) == rfc8785.dumps(fields)


def test_keys_beyond_the_bmp_sort_before_private_use_characters() -> None:
    # U+1F600 is the surrogate pair D83D DE00 in UTF-16, which sorts before U+E000.
    value = {"\ue000": 1, "\U0001f600": 2}
    assert chain.canonical_json(value) == rfc8785.dumps(value)
    assert chain.canonical_json(value).startswith('{"\U0001f600"'.encode())


@pytest.mark.parametrize("number", [2**53, -(2**53), 10**20])
def test_integers_outside_the_double_range_are_refused_as_rfc8785_does(number: int) -> None:
    with pytest.raises(rfc8785.IntegerDomainError):
        chain.canonical_json({"n": number})


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_take_the_reference_path(number: float) -> None:
    assert chain.canonical_json([number]) == rfc8785.dumps([number])


def test_an_unpaired_surrogate_is_refused_not_hashed() -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        chain.canonical_json({"actor": "\ud800"})


def test_control_characters_are_escaped_like_jcs() -> None:
    assert chain.canonical_json('a\nb\x01\x7f"\\') == b'"a\\nb\\u0001\x7f\\"\\\\"'
