"""Export the people and accounts a caller may read, as CSV or JSON, in the import's format.

Accounts are read page by page through the core's list query (same filters, same scope);
recovery addresses and numbers are decrypted only on missions where the caller holds
``accounts:secrets:read``, and appear masked elsewhere. CSV cells a spreadsheet would run as a
formula are neutralised by the writer. Every export is audited (counts, filters, whether any
secret was revealed), since it carries the inventory out of the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from secops.accounts import repository as accounts_repository
from secops.accounts.filters import AccountFilters
from secops.accounts.io import formats, repository, state
from secops.accounts.io.formats import FileFormat
from secops.accounts.io.plan import ACCOUNT_FIELDS
from secops.accounts.io.records import AccountRecord, Group, PersonRecord
from secops.audit import service as audit_service
from secops.core.db import clock_of
from secops.core.errors import NotFound
from secops.core.principal import Permission, Principal

SECRETS = Permission.ACCOUNTS_SECRETS_READ
# Accounts read per statement (and their facts per statement and fact table, in chunks).
PAGE = 1000
MEDIA_TYPES = {FileFormat.CSV: "text/csv; charset=utf-8", FileFormat.JSON: "application/json"}


@dataclass
class Export:
    """An export ready to send: its body, media type and suggested file name."""

    body: bytes
    media_type: str
    filename: str
    people: int = 0
    accounts: int = 0
    revealed: int = 0
    masked: int = 0


def _mission_id(session: Session, principal: Principal, filters: AccountFilters) -> Any:
    if filters.mission is None:
        return None
    mission = accounts_repository.find_mission(session, principal, filters.mission)
    if mission is None:
        raise NotFound(accounts_repository.MISSION_NOT_FOUND)
    return mission.id


def _pages(session: Session, principal: Principal, filters: AccountFilters) -> Iterator[list[Any]]:
    """The matching accounts a page at a time, as plain rows of what a file describes."""
    mission_id = _mission_id(session, principal, filters)
    stale_before = clock_of(session).now() - timedelta(days=filters.stale_days)
    after = None
    while True:
        rows = accounts_repository.account_rows(
            session,
            principal,
            filters,
            fields=("platform", *ACCOUNT_FIELDS),
            mission_id=mission_id,
            stale_before=stale_before,
            after=after,
            limit=PAGE,
        )
        if rows:
            yield rows
        if len(rows) < PAGE:
            return
        after = (rows[-1].handle, rows[-1].id)


def _people(
    session: Session, principal: Principal, filters: AccountFilters, codes: dict[Any, str]
) -> list[PersonRecord]:
    mission_id = _mission_id(session, principal, filters)
    people = repository.people_in_scope(session, principal)
    return [
        state.person_record(p, codes[p.mission_id])
        for p in people
        if mission_id is None or p.mission_id == mission_id
    ]


def account_records(
    session: Session, principal: Principal, filters: AccountFilters, codes: dict[Any, str]
) -> tuple[list[AccountRecord], int]:
    """Every matching account as a record, and how many had their recovery revealed."""
    records: list[AccountRecord] = []
    revealed = 0
    for page in _pages(session, principal, filters):
        if not page:
            continue
        facts = repository.facts_of(session, [a.id for a in page])
        emails = {a.owner_id: a.owner_email for a in page if a.owner_id}
        for account in page:
            reveal = principal.can(SECRETS, account.mission_id)
            revealed += reveal and account.id in facts.recovery
            records.append(
                state.account_record(
                    session,
                    account,
                    facts,
                    mission_codes=codes,
                    owner_emails=emails,
                    reveal=reveal,
                )
            )
    return records, revealed


def export(
    session: Session,
    *,
    principal: Principal,
    file_format: FileFormat,
    filters: AccountFilters | None = None,
) -> Export:
    """Build an export of what ``principal`` may read; audited as ``inventory.export``."""
    filters = filters or AccountFilters()
    codes = {m.id: m.code for m in repository.visible_missions(session, principal)}
    people = _people(session, principal, filters, codes)
    accounts, revealed = account_records(session, principal, filters, codes)
    now = clock_of(session).now()
    if file_format is FileFormat.CSV:
        body = "".join(formats.csv_rows(people, accounts)).encode()
    else:
        document = formats.json_document(people, accounts, exported_at=now)
        body = json.dumps(document, ensure_ascii=False, indent=1).encode()
    masked = sum(1 for a in accounts if Group.RECOVERY in a.groups) - revealed
    audit_service.record(
        session,
        principal=principal,
        action="inventory.export",
        object_type="inventory_export",
        mission_id=_mission_id(session, principal, filters),
        details={
            "format": file_format.value,
            "filters": filters.model_dump(mode="json", exclude_defaults=True),
            "people": len(people),
            "accounts": len(accounts),
            "recovery_revealed": revealed,
            "recovery_masked": masked,
        },
    )
    stamp = now.strftime("%Y%m%d-%H%M%S")
    return Export(
        body=body,
        media_type=MEDIA_TYPES[file_format],
        filename=f"secops-inventory-{stamp}.{file_format.value}",
        people=len(people),
        accounts=len(accounts),
        revealed=revealed,
        masked=masked,
    )
