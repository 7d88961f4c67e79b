"""Facts about accounts: attestation provenance, connector writes, masking, encryption, audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import col, select

from secops.accounts import service
from secops.accounts.fact_schemas import AdminIn, ConnectedAppIn, MfaStateIn, RecoveryIn
from secops.accounts.models import Account, AccountFactSheet, FactStatus, Platform
from secops.audit.models import AuditEvent
from secops.core import keyrotation
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Principal, Role, system_principal
from tests.accounts.conftest import ACCOUNTS
from tests.factories.accounts import make_account, make_person
from tests.factories.missions import Ministry

ROOT = system_principal("tests")
EMAIL = "canary.recovery@gmail.com"
PHONE = "+33 6 12 34 56 78"
FULL_ATTESTATION: dict[str, Any] = {
    "mfa": {"mfa_enabled": True, "mfa_enforced": False},
    "mfa_methods": ["sms", "fido2", "quantumBlink"],
    "recovery": {"email": EMAIL, "phone": PHONE, "phone_owner": "personal", "carrier_lock": False},
    "credential": {"storage": "document", "min_length": 12},
    "admins": [{"external_identity": "Contractor@Agency.example", "affiliation": "external"}],
    "apps": [{"name": "Scheduler Pro", "publisher": "Acme", "scopes": ["publish"]}],
}


@pytest.fixture
def account(sessions: SessionFactory, ministry: Ministry) -> Account:
    with sessions.begin() as s:
        return make_account(s, ministry.paris, handle="emb_paris")


def attest(client: TestClient, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{ACCOUNTS}/{account.id}/attest", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def events(sessions: SessionFactory, action: str) -> list[AuditEvent]:
    with sessions.begin() as s:
        query = select(AuditEvent).where(col(AuditEvent.action) == action)
        return list(s.exec(query.order_by(col(AuditEvent.seq))).all())


def test_attest_records_source_attested_by_and_now_on_every_group(
    client: TestClient, role_on: Any, ministry: Ministry, account: Account
) -> None:
    officer = role_on(Role.OFFICER, ministry.paris)

    body = attest(client, account, FULL_ATTESTATION)

    facts = [
        body["mfa"],
        *body["mfa_method_facts"],
        body["recovery"],
        body["credential"],
        *body["admins"],
        *body["apps"],
        *body["groups"],
    ]
    assert len(facts) == 11
    for fact in facts:
        assert fact["source"] == "attested"
        assert fact["attested_by"] == str(officer.id)
        assert fact["observed_at"] == "2026-01-15T09:00:00Z"
        assert fact["age_days"] == 0
        assert fact["fact_status"] == "ok"
    assert body["recovery"]["last_verified_at"] == "2026-01-15T09:00:00Z"


def test_methods_map_to_tiers_and_the_best_one_summarises_the_account(
    client: TestClient, admin: Principal, account: Account
) -> None:
    body = attest(client, account, {"mfa_methods": ["sms", "fido2", "quantumBlink"]})

    tiers = {m["method"]: m["strength"] for m in body["mfa_method_facts"]}
    assert tiers == {"fido2": "phishing_resistant", "sms": "phone_email", "quantumBlink": "unknown"}
    assert body["mfa_strength"] == "phishing_resistant"
    assert body["mfa_methods"][0] == "fido2"


def test_only_an_unknown_method_never_summarises_as_strong(
    client: TestClient, admin: Principal, account: Account
) -> None:
    body = attest(client, account, {"mfa_methods": ["quantumBlink"]})

    assert body["mfa_strength"] == "unknown"


def test_attesting_no_methods_summarises_as_none(
    client: TestClient, admin: Principal, account: Account
) -> None:
    attest(client, account, {"mfa_methods": ["totp"]})

    body = attest(client, account, {"mfa_methods": []})

    assert body["mfa_method_facts"] == []
    assert body["mfa_strength"] == "none"


def test_evidence_age_grows_with_the_clock(
    client: TestClient, admin: Principal, account: Account, clock: FrozenClock
) -> None:
    attest(client, account, {"mfa_methods": ["totp"]})
    clock.advance(timedelta(days=40))

    body = client.get(f"{ACCOUNTS}/{account.id}").json()

    assert body["mfa_method_facts"][0]["age_days"] == 40
    assert body["age_days"] == 40


def test_empty_attestation_is_400_and_changes_nothing(
    client: TestClient, admin: Principal, account: Account, sessions: SessionFactory
) -> None:
    response = client.post(f"{ACCOUNTS}/{account.id}/attest", json={})

    assert response.status_code == 400
    assert events(sessions, "account.attest") == []


def test_officer_sees_recovery_in_clear_and_manager_sees_it_masked(
    client: TestClient, role_on: Any, ministry: Ministry, account: Account
) -> None:
    role_on(Role.OFFICER, ministry.paris)
    attest(client, account, FULL_ATTESTATION)

    officer_view = client.get(f"{ACCOUNTS}/{account.id}").json()["recovery"]
    role_on(Role.MANAGER, ministry.paris)
    manager_view = client.get(f"{ACCOUNTS}/{account.id}").json()["recovery"]
    role_on(Role.AUDITOR, ministry.paris)
    auditor_view = client.get(f"{ACCOUNTS}/{account.id}").json()["recovery"]

    assert officer_view["masked"] is False
    assert officer_view["email"] == EMAIL
    assert officer_view["phone"] == "+33612345678"
    for view in (manager_view, auditor_view):
        assert view["masked"] is True
        assert view["email"] == "c\u2022\u2022\u2022@gmail.com"
        assert view["phone"] == "+33 \u2022\u2022 \u2022\u2022 \u2022\u2022 78"
        assert view["email_domain"] == "gmail.com"


def test_no_plaintext_recovery_email_or_phone_in_the_database(
    client: TestClient, admin: Principal, account: Account, sessions: SessionFactory
) -> None:
    attest(client, account, FULL_ATTESTATION)

    with sessions.begin() as s:
        tables = [r[0] for r in s.execute(text(_TABLES_SQL[s.get_bind().dialect.name]))]
        dump = ""
        for table in tables:
            rows = s.execute(text(f'SELECT * FROM "{table}"')).all()
            dump += repr(rows)
        sheet = s.get(AccountFactSheet, account.id)
        assert sheet is not None
        assert sheet.recovery_email is not None

    assert "canary.recovery" not in dump
    assert "612345678" not in dump
    assert b"canary" not in sheet.recovery_email


_TABLES_SQL = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
}


def test_attest_is_one_audit_event_with_a_diff_and_no_secret(
    client: TestClient, admin: Principal, account: Account, sessions: SessionFactory
) -> None:
    attest(client, account, FULL_ATTESTATION)
    attest(client, account, {"recovery": {"email": "cecile@gmail.com"}})

    first, second = events(sessions, "account.attest")
    text_of_both = json.dumps([first.details, second.details])
    assert first.object_id == str(account.id)
    assert first.mission_id == account.mission_id
    assert first.details["groups"] == [
        "mfa",
        "mfa_methods",
        "recovery",
        "login_facts",
        "admins",
        "apps",
    ]
    after = first.details["diff"]["after"]
    assert after["login_facts"]["storage"] == "document"
    assert after["recovery"]["email"] == "c\u2022\u2022\u2022@gmail.com"
    assert "canary" not in text_of_both
    assert "cecile" not in text_of_both
    assert "612345678" not in text_of_both
    # Same mask, different address: the diff says the stored value was replaced.
    assert second.details["diff"]["after"]["recovery"]["email_replaced"] is True


def test_recovery_address_of_an_inventoried_mailbox_is_linked(
    client: TestClient,
    admin: Principal,
    ministry: Ministry,
    account: Account,
    sessions: SessionFactory,
) -> None:
    with sessions.begin() as s:
        mailbox = make_account(
            s, ministry.paris, platform=Platform.MICROSOFT365, handle="press@ministry.example"
        )

    body = attest(client, account, {"recovery": {"email": "Press@Ministry.example"}})

    assert body["recovery"]["email_account_id"] == str(mailbox.id)


def test_admins_are_matched_to_people_and_replaced_as_a_list(
    client: TestClient,
    admin: Principal,
    ministry: Ministry,
    account: Account,
    sessions: SessionFactory,
) -> None:
    with sessions.begin() as s:
        ada = make_person(s, ministry.paris, full_name="Ada", email="ada@ministry.example")
    first = attest(
        client,
        account,
        {
            "admins": [
                {"person_id": str(ada.id), "platform_role": "admin"},
                {"external_identity": "old@agency.example"},
            ]
        },
    )

    second = attest(client, account, {"admins": [{"person_id": str(ada.id)}]})

    assert {a["email_domain"] for a in first["admins"]} == {"ministry.example", "agency.example"}
    assert [a["person_name"] for a in second["admins"]] == ["Ada"]
    assert second["admins"][0]["id"] == next(
        a["id"] for a in first["admins"] if a["person_id"] == str(ada.id)
    )


def test_credential_holders_must_be_visible_people(
    client: TestClient,
    role_on: Any,
    ministry: Ministry,
    account: Account,
    sessions: SessionFactory,
) -> None:
    with sessions.begin() as s:
        stranger = make_person(s, ministry.nairobi)
    role_on(Role.OFFICER, ministry.paris)

    response = client.post(
        f"{ACCOUNTS}/{account.id}/attest",
        json={"credential": {"storage": "vault", "holder_ids": [str(stranger.id)]}},
    )

    assert response.status_code == 404
    assert events(sessions, "account.attest") == []


def test_connector_write_records_api_source_and_the_reported_time(
    sessions: SessionFactory, account: Account
) -> None:
    seen = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
    with sessions.begin() as s:
        changed = service.replace_mfa_methods(
            s,
            principal=ROOT,
            account_id=account.id,
            methods=["microsoftAuthenticatorPush", "mobilePhone"],
            source="api:microsoft_graph",
            observed_at=seen,
        )
        detail = service.account_detail(s, principal=ROOT, account_id=account.id)

    assert changed is True
    assert detail.mfa_strength == "app_push"
    assert {m.source for m in detail.mfa_method_facts} == {"api:microsoft_graph"}
    assert {m.attested_by for m in detail.mfa_method_facts} == {None}
    assert detail.mfa_method_facts[0].observed_at == seen
    assert detail.age_days == 5


def test_a_refused_read_marks_the_facts_error_and_never_reads_as_a_pass(
    sessions: SessionFactory, account: Account
) -> None:
    with sessions.begin() as s:
        service.replace_mfa_methods(
            s, principal=ROOT, account_id=account.id, methods=["fido2"], source="api:graph"
        )
        service.set_mfa_state(
            s,
            principal=ROOT,
            account_id=account.id,
            state=MfaStateIn(mfa_enabled=True),
            source="api:graph",
        )
    with sessions.begin() as s:
        for write in (service.replace_mfa_methods, service.set_mfa_state):
            kwargs: dict[str, Any] = (
                {"methods": None} if write is service.replace_mfa_methods else {"state": None}
            )
            write(
                s,
                principal=ROOT,
                account_id=account.id,
                source="api:graph",
                fact_status=FactStatus.ERROR,
                error_reason="403 Authorization_RequestDenied",
                **kwargs,
            )
        detail = service.account_detail(s, principal=ROOT, account_id=account.id)

    assert detail.mfa_strength == "unknown"
    assert detail.mfa is not None
    assert detail.mfa.fact_status == "error"
    assert detail.mfa.error_reason == "403 Authorization_RequestDenied"
    assert [m.fact_status for m in detail.mfa_method_facts] == ["error"]
    assert [g.fact_status for g in detail.groups] == ["error"]


def test_an_error_without_a_reason_is_refused(sessions: SessionFactory, account: Account) -> None:
    with sessions.begin() as s, pytest.raises(ValueError, match="error_reason"):
        service.replace_apps(
            s,
            principal=ROOT,
            account_id=account.id,
            apps=None,
            source="api:google",
            fact_status=FactStatus.ERROR,
        )


def test_an_unknown_source_is_refused(sessions: SessionFactory, account: Account) -> None:
    with sessions.begin() as s, pytest.raises(ValueError, match="source"):
        service.replace_apps(s, principal=ROOT, account_id=account.id, apps=[], source="guess")


def test_rereading_unchanged_facts_is_not_audited_again(
    sessions: SessionFactory, account: Account, clock: FrozenClock
) -> None:
    apps = [ConnectedAppIn(name="Hootsuite", external_id="client-1", scopes=["read"])]
    admins = [AdminIn(external_identity="a@ministry.example", external_id="u1")]
    results = []
    for _ in range(2):
        with sessions.begin() as s:
            results.append(
                (
                    service.replace_apps(
                        s, principal=ROOT, account_id=account.id, apps=apps, source="api:google"
                    ),
                    service.replace_admins(
                        s, principal=ROOT, account_id=account.id, admins=admins, source="api:google"
                    ),
                    service.set_recovery(
                        s,
                        principal=ROOT,
                        account_id=account.id,
                        recovery=RecoveryIn(email=EMAIL),
                        source="api:google",
                    ),
                )
            )
        clock.advance(timedelta(days=1))

    assert results == [(True, True, True), (False, False, False)]
    assert len(events(sessions, "account.apps.set")) == 1
    assert len(events(sessions, "account.admins.set")) == 1
    assert len(events(sessions, "account.recovery.set")) == 1
    with sessions.begin() as s:
        detail = service.account_detail(s, principal=ROOT, account_id=account.id)
    assert detail.apps[0].age_days == 1


def test_summaries_follow_the_oldest_evidence(
    sessions: SessionFactory, account: Account, clock: FrozenClock
) -> None:
    with sessions.begin() as s:
        service.set_mfa_state(
            s,
            principal=ROOT,
            account_id=account.id,
            state=MfaStateIn(mfa_enabled=False),
            source="attested",
        )
    clock.advance(timedelta(days=10))
    with sessions.begin() as s:
        service.replace_apps(s, principal=ROOT, account_id=account.id, apps=[], source="attested")
        stored = s.get(Account, account.id)
        assert stored is not None
        assert stored.mfa_strength == "none"
        assert stored.evidence_at == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def test_a_data_key_rotation_reencrypts_recovery_values_which_stay_readable(
    client: TestClient, admin: Principal, account: Account, sessions: SessionFactory
) -> None:
    attest(client, account, FULL_ATTESTATION)
    with sessions() as s:
        sheet = s.get(AccountFactSheet, account.id)
        assert sheet is not None
        old_blobs = {sheet.recovery_email, sheet.recovery_phone}

    outcome = keyrotation.rotate_dek(sessions, on_step=lambda session, step: None)

    with sessions() as s:
        sheet = s.get(AccountFactSheet, account.id)
        assert sheet is not None
        new_blobs = {sheet.recovery_email, sheet.recovery_phone}
    recovery = client.get(f"{ACCOUNTS}/{account.id}").json()["recovery"]
    assert outcome.reencrypted == 2
    assert old_blobs.isdisjoint(new_blobs)
    assert (recovery["email"], recovery["phone"]) == (EMAIL, "+33612345678")
