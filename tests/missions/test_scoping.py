"""Mission scoping: a principal sees and changes only the missions its grants reach."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Principal, Role
from secops.missions import service as mission_service
from tests.factories.missions import Ministry, acting
from tests.missions.conftest import URL, new_mission

ActAs = Callable[[Principal], None]
# Fields that differ between any two responses (the path asked for, the request's own id).
PER_REQUEST = {"instance", "request_id"}


def stable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in PER_REQUEST}


def send(client: TestClient, method: str, path: str) -> Any:
    headers = {"If-Match": '"v1"'}
    if method == "PATCH":
        return client.patch(path, json={"name": "Taken over"}, headers=headers)
    if method == "POST":
        return client.post(path, headers=headers)
    return client.get(path)


OBJECT_ROUTES = [
    ("GET", "{url}/{id}"),
    ("GET", "{url}/{id}/children"),
    ("PATCH", "{url}/{id}"),
    ("POST", "{url}/{id}/close"),
]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OFFICER, Role.RESPONDER, Role.MANAGER])
@pytest.mark.parametrize(("method", "template"), OBJECT_ROUTES)
def test_mission_a_principal_gets_404_for_mission_b_same_as_a_random_id(
    client: TestClient,
    act_as: ActAs,
    ministry: Ministry,
    role: Role,
    method: str,
    template: str,
) -> None:
    act_as(acting({role: frozenset({ministry.paris.id})}))

    other = send(client, method, template.format(url=URL, id=ministry.nairobi.id))
    missing = send(client, method, template.format(url=URL, id=uuid.uuid4()))

    expected = 404 if role == Role.ADMIN or method == "GET" else 403
    assert other.status_code == missing.status_code == expected
    assert stable(other.json()) == stable(missing.json())
    assert str(ministry.nairobi.id) not in other.text.replace(other.json()["instance"], "")


def test_mission_a_admin_lists_only_mission_a(
    client: TestClient, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(acting({Role.ADMIN: frozenset({ministry.paris.id})}))

    page = client.get(URL).json()

    assert [m["code"] for m in page["items"]] == ["EMB-PARIS"]


def test_grant_expanded_to_children_sees_the_subtree(
    client: TestClient, act_as: ActAs, sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as session:
        reach = mission_service.descendants(session, ministry.paris.id)
    principal = acting({Role.OFFICER: reach})
    act_as(principal)

    page = client.get(URL).json()
    children = client.get(f"{URL}/{ministry.paris.id}/children").json()
    with sessions.begin() as session:
        roots = mission_service.tree(session=session, principal=principal)

    assert [m["code"] for m in page["items"]] == ["CG-LYON", "EMB-PARIS"]
    assert [m["code"] for m in children["items"]] == ["CG-LYON"]
    assert [(r.code, [c.code for c in r.children]) for r in roots] == [("EMB-PARIS", ["CG-LYON"])]
    assert client.get(f"{URL}/{ministry.hq.id}").status_code == 404


def test_children_hidden_from_the_caller_are_not_listed(
    client: TestClient, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(acting({Role.OFFICER: frozenset({ministry.hq.id, ministry.geneva.id})}))

    children = client.get(f"{URL}/{ministry.hq.id}/children").json()

    assert [m["code"] for m in children["items"]] == ["PM-GENEVA-UN"]


def test_search_never_reveals_other_missions(
    client: TestClient, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(acting({Role.MANAGER: frozenset({ministry.paris.id})}))

    for query in ({"q": "nairobi"}, {"code": "EMB-NAIROBI"}, {"region": "africa"}):
        assert client.get(URL, params=query).json()["items"] == []


def test_admin_who_can_read_but_not_write_mission_b_gets_403(
    client: TestClient, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(
        acting(
            {
                Role.ADMIN: frozenset({ministry.paris.id}),
                Role.OFFICER: frozenset({ministry.nairobi.id}),
            }
        )
    )

    readable = client.get(f"{URL}/{ministry.nairobi.id}")
    patched = send(client, "PATCH", f"{URL}/{ministry.nairobi.id}")
    closed = send(client, "POST", f"{URL}/{ministry.nairobi.id}/close")

    assert readable.status_code == 200
    assert (patched.status_code, closed.status_code) == (403, 403)


def test_mission_a_admin_changes_mission_a(
    client: TestClient, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(acting({Role.ADMIN: frozenset({ministry.nairobi.id})}))

    response = send(client, "PATCH", f"{URL}/{ministry.nairobi.id}")

    assert response.status_code == 200, response.text


def test_creating_under_a_parent_out_of_scope_is_404_like_a_missing_parent(
    client: TestClient, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(acting({Role.ADMIN: frozenset({ministry.paris.id})}))

    hidden = client.post(URL, json=new_mission(parent_id=str(ministry.nairobi.id)))
    missing = client.post(URL, json=new_mission(parent_id=str(uuid.uuid4())))
    allowed = client.post(URL, json=new_mission(parent_id=str(ministry.paris.id)))

    assert hidden.status_code == missing.status_code == 404
    assert stable(hidden.json()) == stable(missing.json())
    assert allowed.status_code == 201, allowed.text


def test_creating_under_a_readable_parent_without_write_is_403(
    client: TestClient, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(
        acting(
            {Role.ADMIN: frozenset({ministry.paris.id}), Role.OFFICER: frozenset({ministry.hq.id})}
        )
    )

    response = client.post(URL, json=new_mission(parent_id=str(ministry.hq.id)))

    assert response.status_code == 403


def test_moving_a_mission_under_a_hidden_parent_is_404(
    client: TestClient, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(acting({Role.ADMIN: frozenset({ministry.paris.id, ministry.lyon.id})}))

    response = client.patch(
        f"{URL}/{ministry.lyon.id}",
        json={"parent_id": str(ministry.nairobi.id)},
        headers={"If-Match": '"v1"'},
    )

    assert response.status_code == 404


def test_only_a_ministry_wide_admin_creates_the_hq(client: TestClient, act_as: ActAs) -> None:
    hq = new_mission(code="HQ", kind="hq", country="BE", city="Brussels")
    act_as(acting({Role.ADMIN: frozenset({uuid.uuid4()})}))
    refused = client.post(URL, json=hq)
    act_as(acting({Role.ADMIN: EVERYWHERE}))
    accepted = client.post(URL, json=hq)

    assert (refused.status_code, accepted.status_code) == (403, 201)


def test_role_without_mission_write_is_refused_at_the_route(
    client: TestClient, act_as: ActAs, ministry: Ministry
) -> None:
    act_as(acting({Role.OFFICER: EVERYWHERE}))

    response = client.post(URL, json=new_mission(parent_id=str(ministry.hq.id)))

    assert response.status_code == 403
