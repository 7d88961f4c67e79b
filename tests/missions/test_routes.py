"""Missions through the API as an administrator: create, read, list, update, close, tree."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from secops.core.principal import Principal
from tests.factories.missions import Ministry
from tests.missions.conftest import URL, new_mission, read


def codes(page: dict[str, Any]) -> list[str]:
    return [m["code"] for m in page["items"]]


def test_admin_creates_embassy_with_201_etag_and_location(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    response = client.post(URL, json=new_mission(parent_id=str(ministry.hq.id)))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["code"] == "EMB-ROME"
    assert body["status"] == "active"
    assert body["version"] == 1
    assert body["parent_id"] == str(ministry.hq.id)
    assert response.headers["ETag"] == '"v1"'
    assert response.headers["Location"] == f"{URL}/{body['id']}"
    assert client.get(response.headers["Location"]).json() == body


def test_get_mission_answers_with_its_etag(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    body, etag = read(client, ministry.geneva.id)

    assert body["code"] == "PM-GENEVA-UN"
    assert body["kind"] == "permanent_mission"
    assert body["region"] == "multilateral"
    assert etag == '"v1"'


def test_first_mission_of_an_empty_ministry_is_the_hq(client: TestClient, admin: Principal) -> None:
    hq = new_mission(code="HQ", name="Headquarters", kind="hq", country="BE", city="Brussels")

    response = client.post(URL, json=hq)

    assert response.status_code == 201, response.text
    assert response.json()["parent_id"] is None


def test_second_hq_is_refused_with_409(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    response = client.post(URL, json=new_mission(code="HQ-2", kind="hq"))

    assert response.status_code == 409
    assert "headquarters" in response.json()["detail"]


@pytest.mark.parametrize(
    ("kind", "with_parent"), [("hq", True), ("embassy", False), ("consulate", False)]
)
def test_only_the_hq_has_no_parent(
    client: TestClient, admin: Principal, ministry: Ministry, kind: str, with_parent: bool
) -> None:
    parent = {"parent_id": str(ministry.hq.id)} if with_parent else {}

    response = client.post(URL, json=new_mission(kind=kind, **parent))

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body"]


def test_duplicate_code_is_409_naming_the_field(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    response = client.post(URL, json=new_mission(code="EMB-PARIS", parent_id=str(ministry.hq.id)))

    assert response.status_code == 409
    problem = response.json()
    assert "code" in problem["detail"]
    assert problem["errors"] == [
        {"loc": ["body", "code"], "msg": "already in use", "type": "unique"}
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country", "QQ"),
        ("country", "fr"),
        ("country", "FRA"),
        ("kind", "spaceport-CANARY"),
        ("region", "atlantis-CANARY"),
        ("code", "emb-lowercase-canary"),
        ("code", "C"),
        ("code", "EMB--CANARY"),
        ("code", "-CANARY"),
        ("name", "bell\x07CANARY"),
        ("name", "   "),
        ("city", "x" * 101 + "canary"),
    ],
)
def test_invalid_field_is_422_without_echoing_the_value(
    client: TestClient, admin: Principal, ministry: Ministry, field: str, value: str
) -> None:
    payload = new_mission(parent_id=str(ministry.hq.id), **{field: value})

    response = client.post(URL, json=payload)

    assert response.status_code == 422
    problem = response.json()
    assert [e["loc"] for e in problem["errors"]] == [["body", field]]
    assert "input" not in problem["errors"][0]
    assert "CANARY" not in response.text.upper()


def test_unknown_field_is_422_without_echoing_it(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    payload = new_mission(parent_id=str(ministry.hq.id), flavour="vanilla-CANARY")

    response = client.post(URL, json=payload)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "flavour"]
    assert "vanilla-CANARY" not in response.text


def test_unknown_parent_is_404(client: TestClient, admin: Principal, ministry: Ministry) -> None:
    response = client.post(URL, json=new_mission(parent_id="00000000-0000-4000-8000-000000000001"))

    assert response.status_code == 404


def test_list_is_sorted_by_code(client: TestClient, admin: Principal, ministry: Ministry) -> None:
    page = client.get(URL).json()

    assert codes(page) == ["CG-LYON", "EMB-NAIROBI", "EMB-PARIS", "HQ", "PM-GENEVA-UN"]
    assert page["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "embassy"}, ["EMB-NAIROBI", "EMB-PARIS"]),
        ({"country": "FR"}, ["CG-LYON", "EMB-PARIS"]),
        ({"region": "africa"}, ["EMB-NAIROBI"]),
        ({"status": "active", "kind": "consulate"}, ["CG-LYON"]),
        ({"status": "closed"}, []),
        ({"q": "geneva"}, ["PM-GENEVA-UN"]),
        ({"q": "EMB-"}, ["EMB-NAIROBI", "EMB-PARIS"]),
        ({"q": "embassy in"}, ["EMB-NAIROBI", "EMB-PARIS"]),
        ({"q": "%"}, []),
        ({"q": "_"}, []),
        ({"code": "HQ"}, ["HQ"]),
    ],
)
def test_list_filters_and_searches(
    client: TestClient,
    admin: Principal,
    ministry: Ministry,
    query: dict[str, str],
    expected: list[str],
) -> None:
    response = client.get(URL, params=query)

    assert response.status_code == 200, response.text
    assert codes(response.json()) == expected


@pytest.mark.parametrize(
    "query",
    [{"kind": "castle"}, {"country": "ZZ"}, {"status": "asleep"}, {"contry": "FR"}, {"q": ""}],
)
def test_list_refuses_bad_filters_with_422(
    client: TestClient, admin: Principal, ministry: Ministry, query: dict[str, str]
) -> None:
    assert client.get(URL, params=query).status_code == 422


def test_list_pages_through_every_mission_once_with_the_cursor(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(URL, params=params).json()
        assert len(page["items"]) <= 2
        seen += codes(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ["CG-LYON", "EMB-NAIROBI", "EMB-PARIS", "HQ", "PM-GENEVA-UN"]


@pytest.mark.parametrize("cursor", ["not-a-cursor!", "WzEsMl0", "e30", "WzFd"])
def test_malformed_cursor_is_400(
    client: TestClient, admin: Principal, ministry: Ministry, cursor: str
) -> None:
    assert client.get(URL, params={"cursor": cursor}).status_code == 400


def test_huge_limit_is_capped_not_refused(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    response = client.get(URL, params={"limit": 100000})

    assert response.status_code == 200
    assert len(response.json()["items"]) == 5


def test_children_lists_direct_children_only(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    hq_children = client.get(f"{URL}/{ministry.hq.id}/children").json()
    paris_children = client.get(f"{URL}/{ministry.paris.id}/children").json()

    assert codes(hq_children) == ["EMB-NAIROBI", "EMB-PARIS", "PM-GENEVA-UN"]
    assert codes(paris_children) == ["CG-LYON"]


def test_an_id_that_is_not_a_uuid_is_422_without_echoing_it(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    response = client.get(f"{URL}/EMB-CANARY")

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "mission_id"]
    assert "CANARY" not in response.text.replace(response.json()["instance"], "")
