"""``POST /accounts/import``: every row or nothing, errors by line and column, scoped, audited."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from secops.accounts.io import bulk, repository
from secops.accounts.models import (
    Account,
    AccountAdmin,
    AccountFactSheet,
    AccountMfaMethod,
    ConnectedApp,
    MfaStrength,
    Person,
    PersonStatus,
    RecoveryFacts,
)
from secops.audit.models import AuditEvent
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Principal, Role
from tests.accounts.io.conftest import EXAMPLE_JSON, csv_file, imported, post_file
from tests.factories.missions import Ministry

HEADER = "platform,handle,mission,tier,kind"
RoleOn = Callable[..., Principal]


def count(sessions: SessionFactory, model: Any) -> int:
    with sessions() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def account(sessions: SessionFactory, handle: str) -> Account:
    with sessions() as session:
        return session.exec(select(Account).where(col(Account.handle) == handle)).one()


def recovery_of(session: Session, account_id: uuid.UUID) -> RecoveryFacts:
    sheet = session.get(AccountFactSheet, account_id)
    assert sheet is not None
    recovery = sheet.recovery()
    assert recovery.recorded
    return recovery


def events(sessions: SessionFactory, action: str) -> list[AuditEvent]:
    with sessions() as session:
        query = select(AuditEvent).where(col(AuditEvent.action) == action)
        return list(session.exec(query.order_by(col(AuditEvent.seq))))


def test_the_example_file_creates_people_accounts_and_their_facts(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    example_csv: str,
    sessions: SessionFactory,
) -> None:
    report = imported(client, example_csv)

    assert report["people"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert report["accounts"] == {"created": 3, "updated": 0, "unchanged": 0}
    minister = account(sessions, "mfa_ministry")
    assert minister.mfa_strength == MfaStrength.PHISHING_RESISTANT
    assert minister.evidence_at is not None
    ambassador = account(sessions, "ambassadorparis")
    assert ambassador.mfa_strength == MfaStrength.PHONE_EMAIL
    with sessions() as session:
        recovery = recovery_of(session, ambassador.id)
        assert recovery.email_domain == "gmail.com"
        assert recovery.email_hint == "p•••@gmail.com"
        assert b"gmail" not in (recovery.email or b"")  # encrypted at rest
        assert recovery.phone_hint == "+33 •• •• •• 78"
        app = session.exec(select(ConnectedApp)).one()
        assert (app.name, app.allow_listed) == ("Hootsuite", True)
        left = session.exec(select(Person).where(col(Person.status) == PersonStatus.LEFT)).one()
        admins = session.exec(select(AccountAdmin).where(col(AccountAdmin.person_id) == left.id))
        assert [a.account_id for a in admins] == [ambassador.id]


def test_the_json_example_imports_like_the_csv(
    client: TestClient, ministry: Ministry, admin: Principal, sessions: SessionFactory
) -> None:
    report = imported(client, EXAMPLE_JSON.read_text(), "json")

    assert report["accounts"]["created"] == 3
    assert report["people"]["created"] == 3
    assert account(sessions, "ambassadorparis").owner_id is not None


def test_a_dry_run_reports_every_row_and_stores_nothing(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    example_csv: str,
    sessions: SessionFactory,
) -> None:
    before = count(sessions, AuditEvent)

    report = imported(client, example_csv, dry_run=True)

    assert report["dry_run"] is True
    assert report["import_id"] is None
    assert [o["outcome"] for o in report["outcomes"]] == ["created"] * 6
    assert report["outcomes"][3] == {
        "where": "line 5",
        "line": 5,
        "record": "account",
        "key": "x/mfa_ministry",
        "outcome": "created",
        "changed": [],
    }
    assert count(sessions, Account) == 0
    assert count(sessions, Person) == 0
    assert count(sessions, AuditEvent) == before


def test_a_dry_run_of_a_changed_file_names_the_changed_fields(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    example_csv: str,
    sessions: SessionFactory,
) -> None:
    imported(client, example_csv)
    changed = example_csv.replace("ministry_main,institutional", "mission,institutional")

    report = imported(client, changed, dry_run=True)

    assert report["accounts"] == {"created": 0, "updated": 1, "unchanged": 2}
    (update,) = [o for o in report["outcomes"] if o["outcome"] == "updated"]
    assert update["key"] == "x/mfa_ministry"
    assert update["changed"] == ["tier"]
    assert account(sessions, "mfa_ministry").tier == "ministry_main"


def test_an_error_in_the_last_row_stores_nothing_and_keeps_what_was_there(
    client: TestClient, ministry: Ministry, admin: Principal, sessions: SessionFactory
) -> None:
    imported(client, csv_file(HEADER, "x,@kept,EMB-PARIS,mission,institutional"))
    rows = [f"x,@new{n},EMB-PARIS,mission,institutional" for n in range(20)]
    rows.insert(0, "x,@kept,EMB-PARIS,staff,institutional")
    rows.append("x,@broken,EMB-PARIS,ambasador,institutional")

    response = post_file(client, csv_file(HEADER, *rows))

    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "The file has 1 problem; nothing was stored."
    assert [e["text"] for e in body["errors"]] == ["line 23, column tier: unknown tier 'ambasador'"]
    assert body["errors"][0]["loc"] == ["line 23", "tier"]
    assert count(sessions, Account) == 1
    assert account(sessions, "kept").tier == "mission"


def test_every_error_is_counted_and_the_first_hundred_listed(
    client: TestClient, ministry: Ministry, admin: Principal
) -> None:
    rows = [f"x,@a{n},EMB-PARIS,nope,institutional" for n in range(130)]

    body = post_file(client, csv_file(HEADER, *rows)).json()

    assert (
        body["detail"]
        == "The file has 130 problems (the first 100 are listed); nothing was stored."
    )
    assert len(body["errors"]) == 100


def test_a_row_for_a_mission_outside_the_callers_grants_is_refused_by_line(
    client: TestClient, ministry: Ministry, role_on: RoleOn, sessions: SessionFactory
) -> None:
    role_on(Role.OFFICER, ministry.paris)

    response = post_file(
        client,
        csv_file(
            HEADER,
            "x,@paris,EMB-PARIS,mission,institutional",
            "x,@lyon,CG-LYON,mission,institutional",
            "x,@nairobi,EMB-NAIROBI,mission,institutional",
        ),
    )

    assert response.status_code == 422
    assert [e["text"] for e in response.json()["errors"]] == [
        "line 4, column mission: unknown mission 'EMB-NAIROBI'"
    ]
    assert count(sessions, Account) == 0


def test_a_reader_without_write_on_a_mission_is_told_so(
    client: TestClient, ministry: Ministry, act_as: Callable[[Principal], None]
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

    body = post_file(client, csv_file(HEADER, "x,@n,EMB-NAIROBI,mission,institutional")).json()

    assert [e["text"] for e in body["errors"]] == [
        "line 2, column mission: you may not change the inventory of EMB-NAIROBI"
    ]


def test_an_account_held_by_another_mission_cannot_be_taken_over(
    client: TestClient, ministry: Ministry, role_on: RoleOn, admin: Principal
) -> None:
    imported(client, csv_file(HEADER, "x,@held,EMB-NAIROBI,mission,institutional"))
    role_on(Role.OFFICER, ministry.paris)

    body = post_file(client, csv_file(HEADER, "x,@Held,EMB-PARIS,mission,institutional")).json()

    assert [e["text"] for e in body["errors"]] == [
        "line 2, column handle: this account is on a mission you may not change"
    ]


def test_managers_may_not_import(client: TestClient, ministry: Ministry, role_on: RoleOn) -> None:
    role_on(Role.MANAGER, ministry.hq)

    response = post_file(client, csv_file(HEADER, "x,@a,HQ,mission,institutional"))

    assert response.status_code == 403


def test_references_are_checked_like_the_api_checks_them(
    client: TestClient, ministry: Ministry, admin: Principal
) -> None:
    header = "record,mission,email,full_name,platform,handle,tier,kind,owner,credential_holders"
    body = post_file(
        client,
        csv_file(
            header,
            "person,EMB-NAIROBI,kamau@mfa.example,Kamau Otieno,,,,,,",
            "account,EMB-PARIS,,,x,@a,mission,institutional,kamau@mfa.example,",
            "account,EMB-PARIS,,,x,@b,mission,institutional,nobody@mfa.example,",
            "account,EMB-PARIS,,,x,@c,mission,institutional,,ghost@mfa.example",
            "account,EMB-PARIS,,,x,@a,mission,institutional,,",
            "account,EMB-PARIS,,,x,@d,,institutional,,",
        ),
    ).json()

    assert [e["text"] for e in body["errors"]] == [
        "line 3, column owner: belongs to a mission that is neither this account's nor one "
        "above it",
        "line 4, column owner: no person with this address on your missions (add them as a "
        "person row first)",
        "line 5, column credential_holders: a holder is not a person on your missions (add "
        "them as a person row first)",
        "line 6, column handle: the same account as line 3",
        "line 7, column tier: required for a new account",
    ]


def test_reimporting_changed_rows_updates_them_through_the_audited_services(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    example_csv: str,
    sessions: SessionFactory,
    clock: FrozenClock,
) -> None:
    imported(client, example_csv)
    clock.advance(days=1)
    changed = example_csv.replace(
        "sms,paul.remy.private@gmail.com", "fido2,paul.remy.private@gmail.com"
    )
    changed = changed.replace("Press attaché,2025-09-30", "Press officer,2025-09-30")

    report = imported(client, changed)

    assert report["people"] == {"created": 0, "updated": 1, "unchanged": 2}
    assert report["accounts"] == {"created": 0, "updated": 1, "unchanged": 2}
    ambassador = account(sessions, "ambassadorparis")
    assert ambassador.mfa_strength == MfaStrength.PHISHING_RESISTANT
    with sessions() as session:
        methods = session.exec(
            select(AccountMfaMethod).where(col(AccountMfaMethod.account_id) == ambassador.id)
        ).all()
        assert [(m.method, m.observed_at) for m in methods] == [("fido2", clock.now())]
    (attest,) = events(sessions, "account.attest")
    assert attest.details["groups"] == ["mfa_methods"]
    assert attest.details["diff"]["before"]["mfa_methods"]["items"][0]["method"] == "sms"
    (person,) = events(sessions, "person.update")
    assert person.details["diff"]["after"] == {"position": "Press officer"}


def test_an_import_is_audited_once_with_the_files_digest_and_its_new_rows(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    example_csv: str,
    sessions: SessionFactory,
) -> None:
    report = imported(client, example_csv)

    (summary,) = events(sessions, "inventory.import")
    assert summary.object_id == report["import_id"]
    assert summary.details["sha256"] == hashlib.sha256(example_csv.encode()).hexdigest()
    assert summary.details["accounts"] == {"created": 3, "updated": 0, "unchanged": 0}
    created = events(sessions, "account.import")
    assert sorted(e.mission_id for e in created) == sorted([ministry.hq.id, ministry.paris.id])
    listed = [entry for e in created for entry in e.details["created"]]
    assert any(entry.endswith(" x/mfa_ministry") for entry in listed)
    assert len(events(sessions, "person.import")) == 2
    assert events(sessions, "account.create") == []  # one compact record, not one per row


def test_an_attestation_file_rerecords_facts_with_fresh_evidence(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    example_csv: str,
    sessions: SessionFactory,
    clock: FrozenClock,
) -> None:
    imported(client, example_csv)
    clock.advance(days=30)
    attestation = csv_file(
        "platform,handle,recovery_carrier_lock,mfa_enabled",
        "x,@AmbassadorParis,true,true",
        "x,@MFA_Ministry,true,true",
    )

    report = imported(client, attestation, mode="attest")

    assert report["accounts"] == {"created": 0, "updated": 2, "unchanged": 0}
    ambassador = account(sessions, "ambassadorparis")
    with sessions() as session:
        recovery = recovery_of(session, ambassador.id)
        assert recovery.carrier_lock is True
        assert recovery.observed_at == clock.now()
        assert recovery.email_hint == "p•••@gmail.com"  # columns left out keep their values


def test_an_attestation_file_names_accounts_that_do_not_exist(
    client: TestClient, ministry: Ministry, admin: Principal
) -> None:
    body = post_file(
        client, csv_file("platform,handle,mfa_enabled", "x,@nobody,true"), mode="attest"
    ).json()

    assert [e["text"] for e in body["errors"]] == [
        "line 2, column handle: no such account on your missions (an attestation file only "
        "records facts of existing accounts)"
    ]


def test_evidence_dated_in_the_future_is_refused(
    client: TestClient, ministry: Ministry, admin: Principal
) -> None:
    body = post_file(
        client,
        csv_file(
            HEADER + ",mfa_enabled,mfa_observed_at", "x,@a,HQ,mission,institutional,true,2030-01-01"
        ),
    ).json()

    assert [e["text"] for e in body["errors"]] == [
        "line 2, column mfa_observed_at: the evidence date is in the future"
    ]


def test_a_masked_recovery_value_keeps_the_stored_secret(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    example_csv: str,
    sessions: SessionFactory,
) -> None:
    imported(client, example_csv)
    ambassador = account(sessions, "ambassadorparis")

    kept = imported(
        client,
        csv_file("platform,handle,recovery_email", "x,@ambassadorparis,p•••@gmail.com"),
    )
    wrong = post_file(
        client, csv_file("platform,handle,recovery_email", "x,@ambassadorparis,q•••@gmail.com")
    )

    assert kept["accounts"]["unchanged"] == 1
    assert wrong.status_code == 422
    assert "masked value that does not match" in wrong.json()["errors"][0]["msg"]
    assert account(sessions, "ambassadorparis").version == ambassador.version


def test_json_bodies_are_accepted_with_their_content_type(
    client: TestClient, ministry: Ministry, admin: Principal
) -> None:
    document = {
        "accounts": [
            {
                "platform": "x",
                "handle": "@j",
                "mission": "HQ",
                "tier": "mission",
                "kind": "institutional",
                "mfa_methods": {"items": ["fido2"]},
            }
        ]
    }

    report = imported(client, json.dumps(document), "json")
    unknown = client.post(
        "/api/v1/accounts/import", content=b"x", headers={"Content-Type": "text/plain"}
    )

    assert report["accounts"]["created"] == 1
    assert unknown.status_code == 400


def test_a_key_taken_by_another_writer_meanwhile_is_a_conflict_and_stores_nothing(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imported(client, csv_file(HEADER, "x,@taken,HQ,mission,institutional"))
    # The planner reads the stored keys before another writer's account is committed.
    monkeypatch.setattr(repository, "accounts_by_handle", lambda _session, _keys: {})

    response = post_file(
        client,
        csv_file(HEADER, "x,@fresh,HQ,mission,institutional", "x,@taken,HQ,mission,institutional"),
    )

    assert response.status_code == 409
    assert "at the same time" in response.json()["detail"]
    assert count(sessions, Account) == 1


def test_an_import_written_in_several_batches_stores_every_row_and_fact(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 2)
    rows = [f"x,@batch{n},HQ,mission,institutional,fido2,r{n}@mfa.example" for n in range(5)]

    report = imported(client, csv_file(HEADER + ",mfa_methods,recovery_email", *rows))

    assert report["accounts"]["created"] == 5
    assert count(sessions, Account) == 5
    assert count(sessions, AccountMfaMethod) == 5
    assert count(sessions, AccountFactSheet) == 5
    assert account(sessions, "batch4").mfa_strength == MfaStrength.PHISHING_RESISTANT


def test_a_conflict_in_a_later_batch_stores_nothing_from_the_earlier_ones(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imported(client, csv_file(HEADER, "x,@taken,HQ,mission,institutional"))
    monkeypatch.setattr(bulk, "CHUNK", 2)
    monkeypatch.setattr(repository, "accounts_by_handle", lambda _session, _keys: {})
    rows = [f"x,@early{n},HQ,mission,institutional" for n in range(4)]

    response = post_file(client, csv_file(HEADER, *rows, "x,@taken,HQ,mission,institutional"))

    assert response.status_code == 409
    assert count(sessions, Account) == 1


def test_an_error_in_a_later_batch_stores_nothing_from_the_earlier_ones(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imported(client, csv_file(HEADER, "x,@kept,HQ,mission,institutional"))
    monkeypatch.setattr(bulk, "CHUNK", 2)
    rows = [f"x,@early{n},HQ,mission,institutional" for n in range(4)]

    response = post_file(client, csv_file(HEADER, *rows, "x,@late,NOWHERE,mission,institutional"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["line 6", "mission"]
    assert count(sessions, Account) == 1
    assert account(sessions, "kept").handle == "kept"


def test_a_recovery_address_links_to_a_mailbox_created_in_a_later_batch(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 2)
    rows = [
        "x,@first,HQ,mission,institutional,press@mfa.example",
        "x,@second,HQ,mission,institutional,",
        "x,@third,HQ,mission,institutional,",
        "microsoft365,press@mfa.example,HQ,mission,institutional,",
    ]

    report = imported(client, csv_file(HEADER + ",recovery_email", *rows))

    assert report["accounts"]["created"] == 4
    mailbox = account(sessions, "press@mfa.example")
    with sessions() as session:
        assert recovery_of(session, account(sessions, "first").id).email_account_id == mailbox.id
