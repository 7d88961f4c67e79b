"""Upserts by (platform, handle): one at a time, and in bulk with one audit event per mission."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, func, select

from secops.accounts import service
from secops.accounts.models import Account, Platform
from secops.accounts.results import UpsertOutcome
from secops.accounts.schemas import AccountCreate, PersonCreate
from secops.audit.models import AuditEvent
from secops.core.db import SessionFactory
from secops.core.errors import Conflict, Forbidden, ValidationFailed
from secops.core.principal import Principal, Role, system_principal
from tests.factories.accounts import make_account, make_person
from tests.factories.missions import Ministry, acting

ROOT = system_principal("tests")


def row(mission_id: object, handle: str, **extra: Any) -> AccountCreate:
    return AccountCreate.model_validate(
        {
            "platform": "x",
            "handle": handle,
            "mission_id": mission_id,
            "tier": "mission",
            "kind": "institutional",
            **extra,
        }
    )


def officer_on(*missions: Any) -> Principal:
    return acting({Role.OFFICER: frozenset(m.id for m in missions)})


def test_upsert_creates_then_updates_then_leaves_alone(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        created = service.upsert_account(s, principal=ROOT, data=row(ministry.paris.id, "@Emb"))
        updated = service.upsert_account(
            s, principal=ROOT, data=row(ministry.paris.id, "emb", display_name="Embassy")
        )
        same = service.upsert_account(
            s, principal=ROOT, data=row(ministry.paris.id, "EMB", display_name="Embassy")
        )
        stored = s.get(Account, created.id)

    assert (created.outcome, updated.outcome, same.outcome) == ("created", "updated", "unchanged")
    assert updated.id == created.id
    assert updated.changed == ("display_name",)
    assert stored is not None
    assert stored.version == 2


def test_upsert_of_a_handle_held_on_another_mission_is_409(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        make_account(s, ministry.nairobi, handle="taken")
    with sessions.begin() as s, pytest.raises(Conflict):
        service.upsert_account(
            s, principal=officer_on(ministry.paris), data=row(ministry.paris.id, "taken")
        )


def test_upsert_person_by_email(sessions: SessionFactory, ministry: Ministry) -> None:
    data = PersonCreate(full_name="Ada", email="ada@ministry.example", mission_id=ministry.paris.id)
    with sessions.begin() as s:
        first = service.upsert_person(s, principal=ROOT, data=data)
        second = service.upsert_person(
            s, principal=ROOT, data=data.model_copy(update={"position": "Consul"})
        )

    assert (first.outcome, second.outcome, second.changed) == ("created", "updated", ("position",))


def test_upsert_person_on_a_read_only_mission_is_403(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        make_person(s, ministry.paris, email="ada@ministry.example")
    reader = acting({Role.MANAGER: frozenset({ministry.paris.id})})
    data = PersonCreate(full_name="Ada", email="ada@ministry.example", mission_id=ministry.paris.id)
    with sessions.begin() as s, pytest.raises(Forbidden):
        service.upsert_person(s, principal=reader, data=data)


def test_bulk_upsert_creates_and_updates_with_one_audit_event_per_mission(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        existing = make_account(s, ministry.paris, handle="existing")
        owner = make_person(s, ministry.hq)
    rows = [
        row(ministry.paris.id, "existing", display_name="Renamed"),
        row(ministry.paris.id, "@NewOne", owner_id=owner.id),
        row(ministry.nairobi.id, "nairobi"),
        row(ministry.nairobi.id, "other", external_id="ext-1"),
    ]
    with sessions.begin() as s:
        result = service.bulk_upsert_accounts(s, principal=ROOT, rows=rows, source="import:csv")
    with sessions.begin() as s:
        stored = s.get(Account, existing.id)
        total = s.exec(select(func.count()).select_from(Account)).one()
        events = s.exec(select(AuditEvent).where(col(AuditEvent.action) == "account.import")).all()

    assert result.outcomes == [UpsertOutcome.UPDATED, *[UpsertOutcome.CREATED] * 3]
    assert (result.created, result.updated, result.unchanged) == (3, 1, 0)
    assert result.ids[0] == existing.id
    assert stored is not None
    assert stored.display_name == "Renamed"
    assert stored.version == 2
    assert total == 4
    assert sorted(e.details["rows"] for e in events) == [2, 2]
    paris_event = next(e for e in events if e.mission_id == ministry.paris.id)
    assert {a["handle"] for a in paris_event.details["accounts"]} == {"existing", "newone"}
    assert paris_event.details["source"] == "import:csv"


def test_bulk_upsert_is_all_or_nothing_and_names_every_bad_row(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        make_account(s, ministry.nairobi, handle="theirs", external_id="ext-9")
        nairobi_person = make_person(s, ministry.nairobi)
    rows = [
        row(ministry.paris.id, "fine"),
        row(ministry.nairobi.id, "wrong_mission"),
        row(ministry.paris.id, "theirs"),
        row(ministry.paris.id, "fine"),
        row(ministry.paris.id, "bad_owner", owner_id=nairobi_person.id),
        row(ministry.paris.id, "ext", external_id="ext-9"),
    ]
    with sessions.begin() as s:
        preview = service.bulk_upsert_accounts(
            s, principal=officer_on(ministry.paris), rows=rows, dry_run=True
        )
    with sessions.begin() as s, pytest.raises(ValidationFailed) as failure:
        service.bulk_upsert_accounts(s, principal=officer_on(ministry.paris), rows=rows)
    with sessions.begin() as s:
        total = s.exec(select(func.count()).select_from(Account)).one()

    locs = [tuple(e["loc"]) for e in failure.value.extra["errors"]]
    assert locs == [
        ("rows", 1, "mission_id"),
        ("rows", 2, "handle"),
        ("rows", 3, "handle"),
        ("rows", 4, "owner_id"),
        ("rows", 5, "external_id"),
    ]
    assert [tuple(e["loc"]) for e in preview.errors] == locs
    assert preview.outcomes[0] == UpsertOutcome.CREATED
    assert total == 1


def test_bulk_dry_run_writes_nothing(sessions: SessionFactory, ministry: Ministry) -> None:
    with sessions.begin() as s:
        result = service.bulk_upsert_accounts(
            s, principal=ROOT, rows=[row(ministry.paris.id, "a")], dry_run=True
        )
    with sessions.begin() as s:
        assert s.exec(select(func.count()).select_from(Account)).one() == 0
    assert result.created == 1


def test_find_account_normalises_the_handle(sessions: SessionFactory, ministry: Ministry) -> None:
    with sessions.begin() as s:
        account = make_account(s, ministry.paris, platform=Platform.TIKTOK, handle="embparis")
        found = service.find_account(
            s, principal=ROOT, platform=Platform.TIKTOK, handle="@EmbParis"
        )

    assert found is not None
    assert found.id == account.id
