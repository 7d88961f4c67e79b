"""Mission scoping: other missions' accounts and people answer exactly like missing ones."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from secops.accounts import repository
from secops.accounts.models import Account, Person
from secops.accounts.schemas import PersonRead
from secops.core import inline
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Role
from tests.accounts.conftest import ACCOUNTS, PEOPLE, new_account, new_person
from tests.factories.accounts import make_account, make_person
from tests.factories.auth import grant, login_headers, make_user
from tests.factories.missions import Ministry, acting

RANDOM = "00000000-0000-4000-8000-00000000abcd"


@pytest.fixture
def objects(sessions: SessionFactory, ministry: Ministry) -> dict[str, Any]:
    with sessions.begin() as s:
        paris_person = make_person(s, ministry.paris)
        nairobi_person = make_person(s, ministry.nairobi)
        return {
            "paris_person": paris_person,
            "nairobi_person": nairobi_person,
            "paris": make_account(s, ministry.paris, handle="paris", owner=paris_person),
            "lyon": make_account(s, ministry.lyon, handle="lyon"),
            "nairobi": make_account(s, ministry.nairobi, handle="nairobi", owner=nairobi_person),
        }


def calls(kind: str, object_id: object) -> list[tuple[str, str, dict[str, Any] | None]]:
    if kind == "account":
        url = f"{ACCOUNTS}/{object_id}"
        return [
            ("GET", url, None),
            ("PATCH", url, {"status": "closed"}),
            ("POST", f"{url}/attest", {"mfa_methods": ["sms"]}),
        ]
    url = f"{PEOPLE}/{object_id}"
    return [("GET", url, None), ("PATCH", url, {"position": "Spy"})]


def strip(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in {"request_id", "instance"}}


@pytest.mark.parametrize(("kind", "key"), [("account", "nairobi"), ("person", "nairobi_person")])
def test_officer_gets_404_for_other_missions_objects_on_every_route(
    client: TestClient,
    role_on: Any,
    ministry: Ministry,
    objects: dict[str, Any],
    kind: str,
    key: str,
) -> None:
    role_on(Role.OFFICER, ministry.paris)
    headers = {"If-Match": '"v1"'}

    for (method, url, body), (_, missing_url, _) in zip(
        calls(kind, objects[key].id), calls(kind, RANDOM), strict=True
    ):
        hidden = client.request(method, url, json=body, headers=headers)
        missing = client.request(method, missing_url, json=body, headers=headers)

        assert hidden.status_code == 404, (method, url)
        assert strip(hidden.json()) == strip(missing.json())


def test_nothing_changes_on_the_other_mission(
    client: TestClient,
    role_on: Any,
    ministry: Ministry,
    objects: dict[str, Any],
    sessions: SessionFactory,
) -> None:
    role_on(Role.OFFICER, ministry.paris)
    target = objects["nairobi"]
    for method, url, body in calls("account", target.id):
        client.request(method, url, json=body, headers={"If-Match": '"v1"'})

    with sessions.begin() as s:
        stored = s.get(Account, target.id)
        assert stored is not None
        assert (stored.status, stored.version, stored.mfa_strength) == ("active", 1, None)


def test_officer_lists_only_their_missions_including_those_under_them(
    client: TestClient, role_on: Any, ministry: Ministry, objects: dict[str, Any]
) -> None:
    role_on(Role.OFFICER, ministry.paris)

    accounts = [a["handle"] for a in client.get(ACCOUNTS).json()["items"]]
    people = [p["id"] for p in client.get(PEOPLE).json()["items"]]

    assert accounts == ["lyon", "paris"]
    assert people == [str(objects["paris_person"].id)]


def test_filtering_on_another_mission_is_404_mission_not_found(
    client: TestClient, role_on: Any, ministry: Ministry, objects: dict[str, Any]
) -> None:
    role_on(Role.OFFICER, ministry.paris)

    response = client.get(ACCOUNTS, params={"mission": "EMB-NAIROBI"})

    assert response.status_code == 404
    assert "mission not found" in response.json()["detail"].lower()


def test_owner_filter_on_another_missions_person_finds_nothing(
    client: TestClient, role_on: Any, ministry: Ministry, objects: dict[str, Any]
) -> None:
    role_on(Role.OFFICER, ministry.paris)
    email = objects["nairobi_person"].email

    assert client.get(ACCOUNTS, params={"owner": email}).json()["items"] == []


def test_officer_cannot_assign_an_owner_they_cannot_see(
    client: TestClient, role_on: Any, ministry: Ministry, objects: dict[str, Any]
) -> None:
    role_on(Role.OFFICER, ministry.paris)

    response = client.post(
        ACCOUNTS, json=new_account(ministry.paris, owner_id=str(objects["nairobi_person"].id))
    )

    assert response.status_code == 404


@pytest.mark.parametrize("role", [Role.MANAGER, Role.AUDITOR])
def test_read_only_roles_get_403_on_every_change(
    client: TestClient, role_on: Any, ministry: Ministry, objects: dict[str, Any], role: Role
) -> None:
    role_on(role, ministry.paris)
    paris = objects["paris"].id

    assert client.get(f"{ACCOUNTS}/{paris}").status_code == 200
    assert client.post(ACCOUNTS, json=new_account(ministry.paris)).status_code == 403
    assert client.post(PEOPLE, json=new_person(ministry.paris)).status_code == 403
    for method, url, body in calls("account", paris):
        if method != "GET":
            response = client.request(method, url, json=body, headers={"If-Match": '"v1"'})
            assert response.status_code == 403, (method, url)


def test_readable_but_not_writable_account_is_403_not_404(
    client: TestClient, act_as: Any, ministry: Ministry, objects: dict[str, Any]
) -> None:
    from tests.factories.missions import acting

    act_as(
        acting(
            {
                Role.OFFICER: frozenset({ministry.paris.id}),
                Role.MANAGER: frozenset({ministry.nairobi.id}),
            }
        )
    )
    url = f"{ACCOUNTS}/{objects['nairobi'].id}"

    assert client.get(url).status_code == 200
    assert (
        client.patch(url, json={"tier": "staff"}, headers={"If-Match": '"v1"'}).status_code == 403
    )
    assert client.post(ACCOUNTS, json=new_account(ministry.nairobi)).status_code == 403


def test_signed_in_officer_of_mission_a_gets_404_for_mission_b_account(
    client: TestClient,
    clock: FrozenClock,
    sessions: SessionFactory,
    ministry: Ministry,
    objects: dict[str, Any],
) -> None:
    with sessions.begin() as s:
        user = make_user(s, username="paris-officer")
        grant(s, user, Role.OFFICER, mission_id=ministry.paris.id)
    headers = login_headers(client, clock, user)

    own = client.get(f"{ACCOUNTS}/{objects['paris'].id}", headers=headers)
    other = client.get(f"{ACCOUNTS}/{objects['nairobi'].id}", headers=headers)
    other_person = client.get(f"{PEOPLE}/{objects['nairobi_person'].id}", headers=headers)

    assert own.status_code == 200
    assert other.status_code == 404
    assert other_person.status_code == 404
    assert client.get(f"{ACCOUNTS}/{uuid.uuid4()}").status_code == 401


def test_moving_a_person_to_an_unwritable_mission_is_refused(
    client: TestClient,
    role_on: Any,
    ministry: Ministry,
    objects: dict[str, Any],
    sessions: SessionFactory,
) -> None:
    role_on(Role.OFFICER, ministry.paris)
    person = objects["paris_person"]

    response = client.patch(
        f"{PEOPLE}/{person.id}",
        json={"mission_id": str(ministry.nairobi.id)},
        headers={"If-Match": '"v1"'},
    )

    assert response.status_code == 404
    with sessions.begin() as s:
        stored = s.get(Person, person.id)
        assert stored is not None
        assert stored.mission_id == ministry.paris.id


@pytest.mark.parametrize(
    "roles",
    [
        {Role.OFFICER: "paris"},
        {Role.MANAGER: "paris+lyon"},
        {Role.AUDITOR: "everywhere"},
        {Role.OFFICER: "none"},
    ],
)
def test_a_person_read_on_the_event_loop_is_what_the_scoped_query_reads(
    sessions: SessionFactory, ministry: Ministry, objects: dict[str, Any], roles: dict[Role, str]
) -> None:
    reach = {
        "paris": frozenset({ministry.paris.id}),
        "paris+lyon": frozenset({ministry.paris.id, ministry.lyon.id}),
        "everywhere": EVERYWHERE,
        "none": frozenset(),
    }
    principal = acting({role: reach[name] for role, name in roles.items()})
    ids = [objects["paris_person"].id, objects["nairobi_person"].id, uuid.UUID(RANDOM)]
    session = sessions()
    try:
        reader = inline.reader_for(session)
        for person_id in ids:
            scoped = repository.get_person(session, principal, person_id)
            row = asyncio.run(repository.read_person(reader, principal, person_id))

            assert (row is None) == (scoped is None)
            if scoped is not None:
                assert PersonRead.model_validate(row) == PersonRead.model_validate(scoped)
    finally:
        session.close()
