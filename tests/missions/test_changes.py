"""Changing and closing missions: If-Match, immutable fields, tree rules."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from secops.core.principal import Principal
from tests.factories.missions import Ministry
from tests.missions.conftest import URL, read


def patch(
    client: TestClient, mission_id: object, body: dict[str, object], etag: str | None
) -> httpx.Response:
    headers = {"If-Match": etag} if etag is not None else {}
    return client.patch(f"{URL}/{mission_id}", json=body, headers=headers)


def close(client: TestClient, mission_id: object, etag: str | None) -> httpx.Response:
    headers = {"If-Match": etag} if etag is not None else {}
    return client.post(f"{URL}/{mission_id}/close", headers=headers)


def test_patch_changes_fields_and_bumps_version_and_etag(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.paris.id)

    response = patch(
        client, ministry.paris.id, {"name": "Embassy of the Republic", "city": "Paris 7e"}, etag
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["city"], body["version"]) == (
        "Embassy of the Republic",
        "Paris 7e",
        2,
    )
    assert response.headers["ETag"] == '"v2"'
    assert read(client, ministry.paris.id)[0] == body


def test_patch_without_if_match_is_428(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    response = patch(client, ministry.paris.id, {"name": "New name"}, None)

    assert response.status_code == 428
    assert read(client, ministry.paris.id)[0]["name"] == "Embassy in Paris"


def test_patch_with_stale_etag_is_412(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.paris.id)
    assert patch(client, ministry.paris.id, {"name": "First"}, etag).status_code == 200

    response = patch(client, ministry.paris.id, {"name": "Second"}, etag)

    assert response.status_code == 412
    assert read(client, ministry.paris.id)[0]["name"] == "First"


def test_patch_that_changes_nothing_keeps_the_version(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.paris.id)

    response = patch(client, ministry.paris.id, {"name": "Embassy in Paris"}, etag)

    assert response.status_code == 200
    assert response.headers["ETag"] == etag


@pytest.mark.parametrize(
    "field",
    ["code", "id", "version", "status", "created_at", "updated_at", "closed_at", "mission_id"],
)
def test_server_owned_and_immutable_fields_are_not_writable(
    client: TestClient, admin: Principal, ministry: Ministry, field: str
) -> None:
    _, etag = read(client, ministry.paris.id)

    response = patch(client, ministry.paris.id, {field: "EMB-X"}, etag)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", field]


def test_patch_with_null_is_422(client: TestClient, admin: Principal, ministry: Ministry) -> None:
    _, etag = read(client, ministry.paris.id)

    response = patch(client, ministry.paris.id, {"city": None}, etag)

    assert response.status_code == 422


def test_moving_a_mission_under_another_parent(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.lyon.id)

    response = patch(client, ministry.lyon.id, {"parent_id": str(ministry.hq.id)}, etag)

    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] == str(ministry.hq.id)


@pytest.mark.parametrize("target", ["paris", "lyon"])
def test_moving_a_mission_under_itself_or_its_own_child_is_409(
    client: TestClient, admin: Principal, ministry: Ministry, target: str
) -> None:
    _, etag = read(client, ministry.paris.id)
    new_parent = getattr(ministry, target)

    response = patch(client, ministry.paris.id, {"parent_id": str(new_parent.id)}, etag)

    assert response.status_code == 409
    assert read(client, ministry.paris.id)[0]["parent_id"] == str(ministry.hq.id)


def test_the_hq_cannot_get_a_parent_or_change_kind(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.hq.id)

    moved = patch(client, ministry.hq.id, {"parent_id": str(ministry.paris.id)}, etag)
    rekinded = patch(client, ministry.hq.id, {"kind": "embassy"}, etag)

    assert (moved.status_code, rekinded.status_code) == (409, 409)


def test_no_mission_can_become_a_second_hq(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.nairobi.id)

    response = patch(client, ministry.nairobi.id, {"kind": "hq"}, etag)

    assert response.status_code == 409


def test_close_needs_if_match(client: TestClient, admin: Principal, ministry: Ministry) -> None:
    _, etag = read(client, ministry.nairobi.id)

    assert close(client, ministry.nairobi.id, None).status_code == 428
    assert close(client, ministry.nairobi.id, '"v99"').status_code == 412
    response = close(client, ministry.nairobi.id, etag)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "closed"
    assert body["closed_at"] is not None
    assert response.headers["ETag"] == '"v2"'


def test_closing_a_mission_with_active_children_is_409_until_they_close(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    _, paris_etag = read(client, ministry.paris.id)
    refused = close(client, ministry.paris.id, paris_etag)
    _, lyon_etag = read(client, ministry.lyon.id)
    assert close(client, ministry.lyon.id, lyon_etag).status_code == 200

    accepted = close(client, ministry.paris.id, paris_etag)

    assert refused.status_code == 409
    assert "active" in refused.json()["detail"]
    assert accepted.status_code == 200


def test_the_hq_cannot_be_closed(client: TestClient, admin: Principal, ministry: Ministry) -> None:
    _, etag = read(client, ministry.hq.id)

    assert close(client, ministry.hq.id, etag).status_code == 409


def test_a_closed_mission_is_read_only(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.nairobi.id)
    etag = close(client, ministry.nairobi.id, etag).headers["ETag"]

    renamed = patch(client, ministry.nairobi.id, {"name": "Reopened"}, etag)
    closed_again = close(client, ministry.nairobi.id, etag)

    assert (renamed.status_code, closed_again.status_code) == (409, 409)


def test_nothing_can_be_added_or_moved_under_a_closed_mission(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    _, etag = read(client, ministry.nairobi.id)
    close(client, ministry.nairobi.id, etag)
    _, geneva_etag = read(client, ministry.geneva.id)

    created = client.post(
        URL,
        json={
            "code": "CG-MOMBASA",
            "name": "Consulate in Mombasa",
            "kind": "consulate",
            "country": "KE",
            "city": "Mombasa",
            "region": "africa",
            "parent_id": str(ministry.nairobi.id),
        },
    )
    moved = patch(client, ministry.geneva.id, {"parent_id": str(ministry.nairobi.id)}, geneva_etag)

    assert (created.status_code, moved.status_code) == (409, 409)
