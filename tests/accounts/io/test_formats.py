"""Reading and writing the inventory file: cells, lists, formula neutralisation, line numbers."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secops.accounts.io import cells, csvfile, formats
from secops.accounts.io.formats import FileFormat, Mode
from secops.accounts.io.records import AccountRecord, AdminItem, AppItem, Group, Where
from secops.accounts.models import AccountTier, Affiliation, Platform
from secops.bench.inventory import generate_csv

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
ITEM = (
    st.text(
        alphabet=string.ascii_letters + string.digits + " ;,()=\\@.-_'", min_size=1, max_size=20
    )
    .map(str.strip)
    .filter(bool)
)


def parse_csv(text: str, mode: Mode = Mode.UPSERT) -> formats.ParsedFile:
    return formats.parse(text.encode(), FileFormat.CSV, mode)


def messages(parsed: formats.ParsedFile) -> list[str]:
    return [str(error) for error in parsed.errors.first]


# -- formula neutralisation --------------------------------------------------------------------


@given(TEXT)
def test_neutralised_cells_never_start_a_formula_and_restore_exactly(value: str) -> None:
    cell = cells.neutralise(value)

    assert not cell or cell[0] not in cells.FORMULA_TRIGGERS
    assert cells.restore(cell) == value


def test_formula_cells_get_a_leading_quote() -> None:
    assert cells.neutralise('=HYPERLINK("http://evil.example","click")') == (
        '\'=HYPERLINK("http://evil.example","click")'
    )
    for trigger in "=+-@\t\r":
        assert cells.neutralise(f"{trigger}x") == f"'{trigger}x"
    assert cells.neutralise("plain text") == "plain text"
    assert cells.neutralise("'quoted") == "'quoted"


# -- lists and entries -------------------------------------------------------------------------


@given(st.lists(ITEM, max_size=6))
def test_lists_with_separators_and_backslashes_survive_a_round_trip(items: list[str]) -> None:
    assert cells.parse_list(cells.format_list(items)) == items


@given(ITEM, st.dictionaries(st.sampled_from(["role", "scopes", "publisher"]), ITEM, max_size=3))
def test_structured_entries_survive_a_round_trip(name: str, attributes: dict[str, str]) -> None:
    text = cells.format_entry(name, attributes)

    assert cells.parse_entries(text) == [(name, attributes)]


def test_admins_and_apps_cells_read_into_items() -> None:
    parsed = parse_csv(
        "platform,handle,admins,connected_apps\n"
        'x,@Emb,"b@mfa.example (role=admin); Agency\\, PR (affiliation=external)",'
        '"Hootsuite (publisher=Hootsuite Inc., scopes=publish read, allow_listed=no, '
        'last_reviewed_at=2024-12-01)"\n'
    )

    account = parsed.accounts[0]
    assert account.groups[Group.ADMINS].values["items"] == [
        AdminItem("Agency, PR", None, Affiliation.EXTERNAL),
        AdminItem("b@mfa.example", "admin"),
    ]
    assert account.groups[Group.CONNECTED_APPS].values["items"] == [
        AppItem(
            "Hootsuite",
            "Hootsuite Inc.",
            ("publish", "read"),
            last_reviewed_at=datetime(2024, 12, 1, tzinfo=UTC),
        )
    ]


# -- CSV ---------------------------------------------------------------------------------------


def test_errors_name_the_line_and_the_column() -> None:
    rows = [f"x,@acct{n},EMB-PARIS,mission,institutional" for n in range(12)]
    rows.append("x,@ambassador,EMB-PARIS,ambasador,personal_official")
    parsed = parse_csv("platform,handle,mission,tier,kind\n" + "\n".join(rows) + "\n")

    assert messages(parsed) == ["line 14, column tier: unknown tier 'ambasador'"]
    assert parsed.errors.first[0].as_problem()["line"] == 14
    assert parsed.errors.first[0].as_problem()["column"] == "tier"


def test_line_numbers_count_physical_lines_of_quoted_cells() -> None:
    parsed = parse_csv(
        'platform,handle,mfa_methods\nx,@a,"sms;\nfido2"\nx,@b,sms\nfacebook,,totp\n'
    )

    assert messages(parsed) == ["line 5, column handle: required"]


def test_header_problems_stop_reading_before_any_row() -> None:
    parsed = parse_csv("platform,handle,tier,colour,tier\nx,@a,mission,red,mission\n")

    assert messages(parsed) == [
        "line 1, column colour: unknown column",
        "line 1, column tier: column given twice",
    ]
    assert parsed.accounts == []


def test_a_cell_meant_for_accounts_on_a_person_row_is_an_error() -> None:
    parsed = parse_csv(
        "record,email,full_name,mission,tier\nperson,a@mfa.example,Ann Abela,HQ,minister\n"
    )

    assert messages(parsed) == ["line 2, column tier: not used on person rows"]


def test_values_are_normalised_and_empty_cells_clear() -> None:
    parsed = parse_csv(
        "platform,handle,tier,verified_badge,url,recovery_phone,last_activity_at\n"
        "X,@Emb,Head-Of-Mission,yes,,0033 6 12 34 56 78,2025-03-04\n"
    )

    values = parsed.accounts[0].values
    assert values["platform"] is Platform.X
    assert values["tier"] is AccountTier.HEAD_OF_MISSION
    assert values["verified_badge"] is True
    assert values["url"] is None
    assert values["last_activity_at"] == datetime(2025, 3, 4, tzinfo=UTC)
    assert parsed.accounts[0].groups[Group.RECOVERY].values["phone"] == "+33612345678"


def test_secrets_are_never_echoed_in_errors() -> None:
    parsed = parse_csv(
        "platform,handle,recovery_email,recovery_phone\nx,@a,secret-addr,+1 SECRET\n"
    )

    text = " ".join(messages(parsed))
    assert "secret-addr" not in text
    assert "SECRET" not in text
    assert "column recovery_email: not a valid e-mail address" in text


def test_attestation_files_carry_only_keys_and_facts() -> None:
    parsed = parse_csv("platform,handle,tier,mfa_enabled\nx,@a,mission,true\n", Mode.ATTEST)

    assert messages(parsed) == ["line 1, column tier: not allowed in an attestation file"]


def test_written_csv_reads_back_to_the_same_records() -> None:
    source = parse_csv(
        "record,mission,email,full_name,platform,handle,tier,kind,owner,mfa_methods,admins\n"
        "person,HQ,a@mfa.example,Ann Abela,,,,,,,\n"
        "account,HQ,,,other,=cmd|x,minister,institutional,a@mfa.example,"
        '"sms; fido2","a@mfa.example (role=owner, last_sign_in_at=2025-01-02)"\n'
    )
    text = "".join(formats.csv_rows(source.people, source.accounts))

    again = parse_csv(text)
    assert not again.errors
    assert {k: v for k, v in again.people[0].values.items() if v} == source.people[0].values
    account, original = again.accounts[0], source.accounts[0]
    assert account.values["handle"] == "=cmd|x"
    assert {k: v for k, v in account.values.items() if v is not None} == original.values
    assert account.groups == original.groups


@pytest.mark.parametrize("memo_limit", [4096, 3])
def test_a_generated_file_written_again_reads_back_to_the_same_records(
    memo_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Repeated values are formatted once per column; past the memo's limit, every time.
    monkeypatch.setattr(csvfile, "MEMO_LIMIT", memo_limit)
    source = parse_csv(generate_csv(300)[0])

    again = parse_csv("".join(formats.csv_rows(source.people, source.accounts)))

    def given(values: dict[str, object]) -> dict[str, object]:
        # The generated file leaves some columns out; the written one has every column.
        return {k: v for k, v in values.items() if v is not None}

    def facts(account: AccountRecord) -> dict[Group, object]:
        return {g: (given(r.values), r.observed_at) for g, r in account.groups.items()}

    assert not again.errors
    assert [given(p.values) for p in again.people] == [given(p.values) for p in source.people]
    assert [given(a.values) for a in again.accounts] == [given(a.values) for a in source.accounts]
    assert [facts(a) for a in again.accounts] == [facts(a) for a in source.accounts]


def test_equal_times_on_either_side_of_a_clock_change_are_written_apart() -> None:
    paris = ZoneInfo("Europe/Paris")
    first, second = (
        datetime(2026, 10, 25, 2, 30, tzinfo=paris, fold=fold) for fold in (0, 1)
    )  # the hour that happens twice; the two compare equal
    accounts = [
        AccountRecord(Where("a"), {"platform": Platform.X, "handle": h, "last_activity_at": t})
        for h, t in (("a", first), ("b", second), ("c", first.astimezone(UTC)))
    ]

    text = "".join(formats.csv_rows([], accounts))

    read = parse_csv(text).accounts
    assert [a.values["last_activity_at"] for a in read] == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    ]


# -- JSON --------------------------------------------------------------------------------------


def test_json_errors_name_the_position_and_field() -> None:
    document = {
        "people": [{"email": "a@mfa.example", "full_name": "Ann", "mission": "HQ"}],
        "accounts": [
            {"platform": "x", "handle": "@ok"},
            {"platform": "x", "handle": "@bad", "tier": "ambasador", "mfa": {"enabled": "maybe"}},
            {"platform": "x", "handle": "@odd", "colour": "red"},
        ],
    }

    parsed = formats.parse(json.dumps(document).encode(), FileFormat.JSON)

    assert messages(parsed) == [
        "accounts[1], column tier: unknown tier 'ambasador'",
        "accounts[1], column mfa.enabled: expected true or false, not 'maybe'",
        "accounts[2], column colour: unknown field",
    ]


def test_json_that_does_not_parse_names_its_line() -> None:
    parsed = formats.parse(b'{"accounts": [\n{"platform": "x",,}]}', FileFormat.JSON)

    assert messages(parsed)[0].startswith("line 2: not valid JSON")


def test_text_that_is_not_utf8_is_refused() -> None:
    parsed = formats.parse(b"platform,handle\nx,\xff\xfe\n", FileFormat.CSV)

    assert messages(parsed) == ["file: not UTF-8 text (byte 18)"]
