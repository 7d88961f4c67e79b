"""Properties of the parsing and URL rules, over generated inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secops.accounts.connectors.google import flatten
from secops.accounts.connectors.graph_payloads import RegistrationDetail
from secops.accounts.connectors.http import (
    ALLOWED_HOSTS,
    HostNotAllowed,
    check_url,
    retry_after_seconds,
)
from secops.accounts.connectors.readings import parse_row

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
NOW = datetime(2026, 1, 15, 9, tzinfo=UTC)


hosts = st.sampled_from(sorted(ALLOWED_HOSTS)) | st.from_regex(r"[a-z0-9.\-]{1,40}", fullmatch=True)


@given(host=hosts, path=st.from_regex(r"[A-Za-z0-9/_\-]{0,20}", fullmatch=True))
def test_a_url_passes_exactly_when_its_host_is_allow_listed(host: str, path: str) -> None:
    url = f"https://{host}/{path}"
    try:
        parsed = check_url(url, ALLOWED_HOSTS)
    except HostNotAllowed:
        assert host not in ALLOWED_HOSTS
        return
    assert parsed.host in ALLOWED_HOSTS
    assert parsed.scheme == "https"


@given(raw=json_values)
def test_parsing_any_row_never_raises(raw: Any) -> None:
    parsed = parse_row(RegistrationDetail, raw)

    if parsed is not None:
        assert isinstance(parsed.row.id, str)
        assert isinstance(parsed.row.user_principal_name, str)


@given(raw=st.dictionaries(st.sampled_from(["isMfaRegistered", "methodsRegistered"]), json_values))
def test_a_row_with_an_id_keeps_it_whatever_else_is_broken(raw: dict[str, Any]) -> None:
    parsed = parse_row(RegistrationDetail, {**raw, "id": "u1", "userPrincipalName": "u@x.example"})

    assert parsed is not None
    assert parsed.row.id == "u1"
    if parsed.row.is_mfa_registered is None:
        assert parsed.problem("isMfaRegistered", None, "report") is not None


@given(pairs=st.lists(json_values, max_size=8))
def test_flattening_any_parameter_list_never_raises(pairs: list[Any]) -> None:
    values = flatten(pairs)

    assert all(isinstance(k, str) for k in values)


@given(header=st.text(max_size=40))
def test_retry_after_is_never_negative(header: str) -> None:
    wait = retry_after_seconds(header, NOW)

    assert wait is None or wait >= 0


@pytest.mark.parametrize(
    ("header", "wait"), [("0", 0.0), ("120", 120.0), ("", None), ("soon", None)]
)
def test_retry_after_values(header: str, wait: float | None) -> None:
    assert retry_after_seconds(header, NOW) == wait
