"""The staff directory: owners, administrators and credential holders of accounts.

Checks run in this order so nothing leaks: visible (else 404, same as missing), writable (403),
``If-Match`` (428/412), then uniqueness (409). Every change is audited; nothing here commits.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from secops.accounts import repository
from secops.accounts.filters import PersonFilters
from secops.accounts.models import Person, PersonStatus
from secops.accounts.results import UpsertOutcome, UpsertResult
from secops.accounts.schemas import PersonCreate, PersonPage, PersonRead, PersonUpdate
from secops.audit import service as audit_service
from secops.core import inline
from secops.core.db import clock_of
from secops.core.errors import Conflict, Forbidden, NotFound
from secops.core.etag import require_if_match
from secops.core.principal import Permission, Principal

OBJECT_TYPE = "person"
NOT_FOUND = "No such person."
WRITE = Permission.ACCOUNTS_WRITE


def duplicate_email() -> Conflict:
    """The 409 for an e-mail address already in the directory."""
    return Conflict(
        "Another person already uses this e-mail address (field: email).",
        extra={"errors": [{"loc": ["body", "email"], "msg": "already in use", "type": "unique"}]},
    )


async def read_person(
    session: Session, *, principal: Principal, person_id: uuid.UUID
) -> PersonRead:
    """A person on one of the caller's missions, as the API shows them, read on the event loop."""
    row = await repository.read_person(inline.reader_for(session), principal, person_id)
    if row is None:
        raise NotFound(NOT_FOUND)
    return PersonRead.model_validate(row)


def find_person_by_email(session: Session, *, principal: Principal, email: str) -> Person | None:
    """The visible person with this e-mail address (compared lower-cased), if any."""
    return repository.person_by_email(session, principal, email)


def list_people(
    session: Session,
    *,
    principal: Principal,
    filters: PersonFilters,
    cursor: str | None = None,
    limit: int | None = None,
) -> PersonPage:
    """One page of the people on the caller's missions, by name."""
    mission_id = None
    if filters.mission is not None:
        mission = repository.find_mission(session, principal, filters.mission)
        if mission is None:
            raise NotFound(repository.MISSION_NOT_FOUND)
        mission_id = mission.id
    rows, next_cursor = repository.people_page(
        session, principal, filters, mission_id, cursor=cursor, limit=limit
    )
    return PersonPage(items=[PersonRead.model_validate(p) for p in rows], next_cursor=next_cursor)


def create_person(session: Session, *, principal: Principal, data: PersonCreate) -> Person:
    """Add a person to a mission the caller may write."""
    _writable_mission(session, principal, data.mission_id)
    if repository.person_id_for_email(session, data.email) is not None:
        raise duplicate_email()
    now = clock_of(session).now()
    person = Person(**data.model_dump(), created_at=now, updated_at=now)
    if person.status == PersonStatus.LEFT and person.left_at is None:
        person.left_at = now
    session.add(person)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="person.create",
        object_type=OBJECT_TYPE,
        object_id=person.id,
        mission_id=person.mission_id,
        after=person.snapshot(),
    )
    return person


def update_person(
    session: Session,
    *,
    principal: Principal,
    person_id: uuid.UUID,
    changes: PersonUpdate,
    if_match: str | None,
) -> Person:
    """Change a person; send the ETag you read. Leaving stamps ``left_at`` if not given."""
    person = _for_change(session, principal, person_id)
    require_if_match(if_match, person.version)
    _apply(session, principal, person, changes.changes())
    return person


def upsert_person(session: Session, *, principal: Principal, data: PersonCreate) -> UpsertResult:
    """Create the person, or bring the one with this e-mail address in line with ``data``."""
    person = repository.person_by_email(session, principal, data.email)
    if person is None:
        return UpsertResult(create_person(session, principal=principal, data=data).id, _CREATED)
    if not principal.can(WRITE, person.mission_id):
        raise Forbidden("You may read this person but not change them.")
    changed = _apply(session, principal, person, data.model_dump(exclude_unset=True))
    outcome = UpsertOutcome.UPDATED if changed else UpsertOutcome.UNCHANGED
    return UpsertResult(person.id, outcome, tuple(changed))


_CREATED = UpsertOutcome.CREATED


def _for_change(session: Session, principal: Principal, person_id: uuid.UUID) -> Person:
    person = repository.get_person(session, principal, person_id, for_update=True)
    if person is None:
        raise NotFound(NOT_FOUND)
    if not principal.can(WRITE, person.mission_id):
        raise Forbidden("You may read this person but not change them.")
    return person


def _apply(
    session: Session, principal: Principal, person: Person, requested: dict[str, Any]
) -> list[str]:
    fields = {k: v for k, v in requested.items() if getattr(person, k) != v}
    if "mission_id" in fields:
        _writable_mission(session, principal, fields["mission_id"])
    if "email" in fields and repository.person_id_for_email(session, fields["email"]):
        raise duplicate_email()
    now = clock_of(session).now()
    status = fields.get("status")
    if status == PersonStatus.LEFT and "left_at" not in requested:
        fields["left_at"] = now
    elif status == PersonStatus.ACTIVE:
        fields["left_at"] = None
    if not fields:
        return []
    before = person.snapshot()
    for name, value in fields.items():
        setattr(person, name, value)
    person.updated_at = now
    person.version += 1
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="person.update",
        object_type=OBJECT_TYPE,
        object_id=person.id,
        mission_id=person.mission_id,
        before=before,
        after=person.snapshot(),
    )
    return sorted(fields)


def _writable_mission(session: Session, principal: Principal, mission_id: uuid.UUID) -> None:
    mission = repository.mission_by_id(session, principal, mission_id)
    if not principal.can(WRITE, mission.id):
        raise Forbidden("You may read this mission's inventory but not change it.")
