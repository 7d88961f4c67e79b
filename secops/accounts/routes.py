"""HTTP routes for the account inventory: accounts and people, thin wrappers over the service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from secops.accounts import service
from secops.accounts.fact_schemas import AttestationIn
from secops.accounts.filters import AccountListQuery, PersonListQuery
from secops.accounts.schemas import (
    AccountCreate,
    AccountDetail,
    AccountPage,
    AccountRead,
    AccountUpdate,
    PersonCreate,
    PersonPage,
    PersonRead,
    PersonUpdate,
)
from secops.auth.deps import CanReadAccounts, CanWriteAccounts
from secops.core.db import DbSession
from secops.core.errors import (
    BadRequest,
    Conflict,
    DecryptionFailed,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    SecopsError,
    problems,
)
from secops.core.etag import etag_for

accounts = APIRouter(prefix="/accounts", tags=["accounts"])
people = APIRouter(prefix="/people", tags=["people"])

IfMatch = Annotated[str | None, Header(description="The ETag you last read.")]
CHANGE_PROBLEMS: tuple[type[SecopsError], ...] = (
    NotFound,
    Conflict,
    PreconditionFailed,
    PreconditionRequired,
)


def _tagged(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_for(version)


# -- accounts -------------------------------------------------------------------------------


@accounts.get("", responses=problems(BadRequest, NotFound))
def list_accounts(
    query: Annotated[AccountListQuery, Query()], session: DbSession, principal: CanReadAccounts
) -> AccountPage:
    """Accounts on your missions: filter, search, sort (``-`` for descending) and page."""
    return service.list_accounts(
        session,
        principal=principal,
        filters=query.filters(),
        sort=query.sort,
        cursor=query.cursor,
        limit=query.limit,
    )


@accounts.post("", status_code=status.HTTP_201_CREATED, responses=problems(NotFound, Conflict))
def create_account(
    body: AccountCreate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CanWriteAccounts,
) -> AccountRead:
    """Add an account to one of your missions; its handle is normalised for the platform."""
    account = service.create_account(session, principal=principal, data=body)
    response.headers["Location"] = request.url_for("get_account", account_id=account.id).path
    _tagged(response, account.version)
    return service.account_read(session, principal=principal, account_id=account.id)


@accounts.get("/{account_id:uuid}", responses=problems(NotFound, DecryptionFailed))
def get_account(
    account_id: uuid.UUID, response: Response, session: DbSession, principal: CanReadAccounts
) -> AccountDetail:
    """One account with every fact and its age; recovery details masked unless you may see them."""
    detail = service.account_detail(session, principal=principal, account_id=account_id)
    _tagged(response, detail.version)
    return detail


@accounts.patch("/{account_id:uuid}", responses=problems(*CHANGE_PROBLEMS))
def update_account(
    account_id: uuid.UUID,
    body: AccountUpdate,
    response: Response,
    session: DbSession,
    principal: CanWriteAccounts,
    if_match: IfMatch = None,
) -> AccountRead:
    """Change an account's description; send ``If-Match`` with its ETag."""
    account = service.update_account(
        session, principal=principal, account_id=account_id, changes=body, if_match=if_match
    )
    _tagged(response, account.version)
    return service.account_read(session, principal=principal, account_id=account.id)


@accounts.post(
    "/{account_id:uuid}/attest", responses=problems(NotFound, BadRequest, DecryptionFailed)
)
def attest_account(
    account_id: uuid.UUID,
    body: AttestationIn,
    response: Response,
    session: DbSession,
    principal: CanWriteAccounts,
) -> AccountDetail:
    """Vouch for facts now: each group sent replaces the recorded one, as attested by you."""
    service.attest(session, principal=principal, account_id=account_id, facts=body)
    detail = service.account_detail(session, principal=principal, account_id=account_id)
    _tagged(response, detail.version)
    return detail


# -- people ---------------------------------------------------------------------------------


@people.get("", responses=problems(BadRequest, NotFound))
def list_people(
    query: Annotated[PersonListQuery, Query()], session: DbSession, principal: CanReadAccounts
) -> PersonPage:
    """People on your missions, by name."""
    return service.list_people(
        session,
        principal=principal,
        filters=query.filters(),
        cursor=query.cursor,
        limit=query.limit,
    )


@people.post("", status_code=status.HTTP_201_CREATED, responses=problems(NotFound, Conflict))
def create_person(
    body: PersonCreate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CanWriteAccounts,
) -> PersonRead:
    """Add a person to one of your missions; e-mail addresses are unique."""
    person = service.create_person(session, principal=principal, data=body)
    response.headers["Location"] = request.url_for("get_person", person_id=person.id).path
    _tagged(response, person.version)
    return PersonRead.model_validate(person)


@people.get("/{person_id}", responses=problems(NotFound))
async def get_person(
    person_id: uuid.UUID, response: Response, session: DbSession, principal: CanReadAccounts
) -> PersonRead:
    """One person, with their ETag."""
    person = await service.read_person(session, principal=principal, person_id=person_id)
    _tagged(response, person.version)
    return person


@people.patch("/{person_id}", responses=problems(*CHANGE_PROBLEMS))
def update_person(
    person_id: uuid.UUID,
    body: PersonUpdate,
    response: Response,
    session: DbSession,
    principal: CanWriteAccounts,
    if_match: IfMatch = None,
) -> PersonRead:
    """Change a person (``status: left`` stamps ``left_at``); send ``If-Match``."""
    person = service.update_person(
        session, principal=principal, person_id=person_id, changes=body, if_match=if_match
    )
    _tagged(response, person.version)
    return PersonRead.model_validate(person)


# The application adds these one route at a time (``core.routing``), in this order.
routers = (accounts, people)
