"""Accounts and people through the API: create, read, change with If-Match, and bad input."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import func, select

from secops.accounts.models import Account, Person
from secops.core.db import SessionFactory
from secops.core.principal import Principal, Role
from tests.accounts.conftest import ACCOUNTS, PEOPLE, new_account, new_person, read
from tests.factories.accounts import make_account, make_person
from tests.factories.missions import Ministry


def count(sessions: SessionFactory, table: type[Any]) -> int:
    with sessions.begin() as s:
        return int(s.exec(select(func.count()).select_from(table)).one())


def error_fields(response: Any) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in response.json().get("errors", [])]


def test_create_account_normalises_handle_and_answers_201_with_etag_and_location(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    response = client.post(ACCOUNTS, json=new_account(ministry.paris, handle="  @EmbParis "))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["handle"] == "embparis"
    assert body["mission_code"] == "EMB-PARIS"
    assert body["mfa_strength"] is None
    assert body["age_days"] is None
    assert response.headers["ETag"] == '"v1"'
    assert response.headers["Location"] == f"{ACCOUNTS}/{body['id']}"


def test_mailbox_handles_are_lower_cased_but_keep_their_at_sign(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    body = new_account(ministry.paris, platform="microsoft365", handle="Press.Paris@Ministry.EX")

    response = client.post(ACCOUNTS, json=body)

    assert response.json()["handle"] == "press.paris@ministry.ex"


def test_get_account_shows_every_group_empty_before_any_fact(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    created = client.post(ACCOUNTS, json=new_account(ministry.paris)).json()

    body, etag = read(client, f"{ACCOUNTS}/{created['id']}")

    assert etag == '"v1"'
    assert body["recovery"] is None
    assert body["credential"] is None
    assert body["admins"] == []
    assert body["apps"] == []
    assert body["groups"] == []


def test_patch_with_current_etag_changes_and_bumps_version(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    created = client.post(ACCOUNTS, json=new_account(ministry.paris)).json()
    url = f"{ACCOUNTS}/{created['id']}"

    response = client.patch(
        url, json={"status": "dormant", "url": None}, headers={"If-Match": '"v1"'}
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "dormant"
    assert response.json()["url"] is None
    assert response.headers["ETag"] == '"v2"'


def test_patch_without_if_match_is_428_and_with_a_stale_one_412(
    client: TestClient, admin: Principal, ministry: Ministry, sessions: SessionFactory
) -> None:
    created = client.post(ACCOUNTS, json=new_account(ministry.paris)).json()
    url = f"{ACCOUNTS}/{created['id']}"
    client.patch(url, json={"tier": "staff"}, headers={"If-Match": '"v1"'})

    missing = client.patch(url, json={"tier": "service"})
    stale = client.patch(url, json={"tier": "service"}, headers={"If-Match": '"v1"'})

    assert missing.status_code == 428
    assert stale.status_code == 412
    assert client.get(url).json()["tier"] == "staff"


def test_patch_refuses_null_for_a_required_field(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    created = client.post(ACCOUNTS, json=new_account(ministry.paris)).json()

    response = client.patch(
        f"{ACCOUNTS}/{created['id']}", json={"tier": None}, headers={"If-Match": '"v1"'}
    )

    assert response.status_code == 422


def test_platform_cannot_be_changed(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    created = client.post(ACCOUNTS, json=new_account(ministry.paris)).json()

    response = client.patch(
        f"{ACCOUNTS}/{created['id']}", json={"platform": "facebook"}, headers={"If-Match": '"v1"'}
    )

    assert response.status_code == 422


def test_duplicate_platform_and_handle_is_409_naming_both_fields_and_stores_nothing(
    client: TestClient, admin: Principal, ministry: Ministry, sessions: SessionFactory
) -> None:
    client.post(ACCOUNTS, json=new_account(ministry.paris, handle="EmbParis"))

    again = client.post(ACCOUNTS, json=new_account(ministry.nairobi, handle="@embparis"))

    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert error_fields(again) == ["body.platform", "body.handle"]
    assert count(sessions, Account) == 1


def test_same_handle_on_another_platform_is_allowed(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    client.post(ACCOUNTS, json=new_account(ministry.paris, handle="embparis"))

    other = client.post(ACCOUNTS, json=new_account(ministry.paris, platform="instagram"))

    assert other.status_code == 201


def test_renaming_onto_a_taken_handle_is_409(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    client.post(ACCOUNTS, json=new_account(ministry.paris, handle="taken"))
    other = client.post(ACCOUNTS, json=new_account(ministry.paris, handle="free")).json()

    response = client.patch(
        f"{ACCOUNTS}/{other['id']}", json={"handle": "@Taken"}, headers={"If-Match": '"v1"'}
    )

    assert response.status_code == 409


def test_unknown_platform_is_422_naming_the_field_without_echoing_input(
    client: TestClient, admin: Principal, ministry: Ministry, sessions: SessionFactory
) -> None:
    response = client.post(ACCOUNTS, json=new_account(ministry.paris, platform="myspace"))

    assert response.status_code == 422
    assert "body.platform" in error_fields(response)
    assert "myspace" not in response.text
    assert count(sessions, Account) == 0


def test_invalid_url_is_422_naming_the_field(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    for url in ("javascript:alert(1)", "ftp://x.com/a", "https://", "https://u:p@x.com/"):
        response = client.post(ACCOUNTS, json=new_account(ministry.paris, url=url))

        assert response.status_code == 422, url
        assert "body.url" in error_fields(response)


def test_unknown_field_is_422(client: TestClient, admin: Principal, ministry: Ministry) -> None:
    response = client.post(ACCOUNTS, json=new_account(ministry.paris, password="hunter2"))

    assert response.status_code == 422
    assert "hunter2" not in response.text


def test_mission_outside_the_callers_grants_is_404_mission_not_found(
    client: TestClient, role_on: Any, ministry: Ministry, sessions: SessionFactory
) -> None:
    role_on(Role.OFFICER, ministry.paris)

    response = client.post(ACCOUNTS, json=new_account(ministry.nairobi))

    assert response.status_code == 404
    assert "mission not found" in response.json()["detail"].lower()
    assert count(sessions, Account) == 0


def test_owner_from_an_unrelated_mission_is_409_naming_owner_id(
    client: TestClient, admin: Principal, ministry: Ministry, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        nairobi_staff = make_person(s, ministry.nairobi)

    response = client.post(
        ACCOUNTS, json=new_account(ministry.paris, owner_id=str(nairobi_staff.id))
    )

    assert response.status_code == 409
    assert error_fields(response) == ["body.owner_id"]
    assert count(sessions, Account) == 0


def test_hq_staff_may_own_an_embassy_account_and_paris_staff_a_lyon_one(
    client: TestClient, admin: Principal, ministry: Ministry, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        hq_staff, paris_staff = make_person(s, ministry.hq), make_person(s, ministry.paris)

    embassy = client.post(ACCOUNTS, json=new_account(ministry.paris, owner_id=str(hq_staff.id)))
    consulate = client.post(ACCOUNTS, json=new_account(ministry.lyon, owner_id=str(paris_staff.id)))

    assert embassy.status_code == 201, embassy.text
    assert consulate.status_code == 201, consulate.text
    assert embassy.json()["owner_name"] == hq_staff.full_name


def test_embassy_staff_may_not_own_a_headquarters_account(
    client: TestClient, admin: Principal, ministry: Ministry, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        paris_staff = make_person(s, ministry.paris)

    response = client.post(ACCOUNTS, json=new_account(ministry.hq, owner_id=str(paris_staff.id)))

    assert response.status_code == 409


def test_moving_an_account_away_from_its_owners_mission_is_409(
    client: TestClient, admin: Principal, ministry: Ministry, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        owner = make_person(s, ministry.paris)
        account = make_account(s, ministry.paris, owner=owner)

    response = client.patch(
        f"{ACCOUNTS}/{account.id}",
        json={"mission_id": str(ministry.nairobi.id)},
        headers={"If-Match": '"v1"'},
    )

    assert response.status_code == 409
    assert error_fields(response) == ["body.owner_id"]


def test_unknown_owner_is_404_and_nothing_is_stored(
    client: TestClient, admin: Principal, ministry: Ministry, sessions: SessionFactory
) -> None:
    response = client.post(
        ACCOUNTS,
        json=new_account(ministry.paris, owner_id="00000000-0000-4000-8000-000000000001"),
    )

    assert response.status_code == 404
    assert "owner" in response.json()["detail"].lower()
    assert count(sessions, Account) == 0


# -- people ---------------------------------------------------------------------------------


def test_create_person_lower_cases_the_email(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    response = client.post(PEOPLE, json=new_person(ministry.paris))

    assert response.status_code == 201, response.text
    assert response.json()["email"] == "ada.lovelace@ministry.example"
    assert response.headers["ETag"] == '"v1"'


def test_duplicate_person_email_is_409_naming_email(
    client: TestClient, admin: Principal, ministry: Ministry, sessions: SessionFactory
) -> None:
    client.post(PEOPLE, json=new_person(ministry.paris))

    again = client.post(
        PEOPLE, json=new_person(ministry.nairobi, email="ADA.LOVELACE@ministry.example")
    )

    assert again.status_code == 409
    assert error_fields(again) == ["body.email"]
    assert count(sessions, Person) == 1


def test_invalid_person_email_is_422(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    response = client.post(PEOPLE, json=new_person(ministry.paris, email="not-an-address"))

    assert response.status_code == 422
    assert "body.email" in error_fields(response)


def test_marking_a_person_as_left_stamps_left_at(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    created = client.post(PEOPLE, json=new_person(ministry.paris)).json()
    url = f"{PEOPLE}/{created['id']}"

    left = client.patch(url, json={"status": "left"}, headers={"If-Match": '"v1"'})
    back = client.patch(url, json={"status": "active"}, headers={"If-Match": '"v2"'})

    assert left.status_code == 200, left.text
    assert left.json()["left_at"] == "2026-01-15T09:00:00Z"
    assert back.json()["left_at"] is None


def test_person_patch_needs_if_match(
    client: TestClient, admin: Principal, ministry: Ministry
) -> None:
    created = client.post(PEOPLE, json=new_person(ministry.paris)).json()

    response = client.patch(f"{PEOPLE}/{created['id']}", json={"position": "Consul"})

    assert response.status_code == 428


def test_list_people_filters_by_mission_code_and_email(
    client: TestClient, admin: Principal, ministry: Ministry, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        make_person(s, ministry.paris, full_name="Zoe", email="zoe@ministry.example")
        make_person(s, ministry.nairobi, full_name="Yann")

    by_mission = client.get(PEOPLE, params={"mission": "EMB-PARIS"}).json()
    by_email = client.get(PEOPLE, params={"email": "ZOE@ministry.example"}).json()

    assert [p["full_name"] for p in by_mission["items"]] == ["Zoe"]
    assert [p["full_name"] for p in by_email["items"]] == ["Zoe"]
