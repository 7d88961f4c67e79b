"""HTTP routes to import and export the inventory (people and accounts) as CSV or JSON.

``POST /accounts/import`` takes the file as the raw request body (``text/csv`` or
``application/json``; ``?format=`` overrides the content type). Its body limit is
``SECOPS_MAX_IMPORT_BYTES`` (64 MiB by default), not the general 1 MiB, because the whole file
is checked and stored in one transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from secops.accounts.filters import AccountFilters
from secops.accounts.io import allowance, exporter, importer
from secops.accounts.io.formats import FileFormat, Mode
from secops.accounts.io.schemas import ImportReport
from secops.auth.deps import CanReadAccounts, CanWriteAccounts
from secops.core.db import DbSession
from secops.core.errors import (
    BadRequest,
    Conflict,
    DecryptionFailed,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    problems,
)

IMPORT_PATH = "/api/v1/accounts/import"
router = APIRouter(prefix="/accounts", tags=["accounts"])
_BY_MEDIA_TYPE = {"text/csv": FileFormat.CSV, "application/json": FileFormat.JSON}


async def file_body(request: Request) -> bytes:
    """The raw request body (already capped by the body-limit middleware)."""
    return await request.body()


def file_format(request: Request, format: FileFormat | None = None) -> FileFormat:
    """``?format=``, else the Content-Type; 400 when neither names CSV or JSON."""
    if format is not None:
        return format
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    found = _BY_MEDIA_TYPE.get(media_type)
    if found is None:
        raise BadRequest("Send the file as text/csv or application/json, or add ?format=.")
    return found


class ExportQuery(AccountFilters):
    """The query string of ``GET /accounts/export``: the list's filters and the format."""

    format: FileFormat = FileFormat.CSV

    def filters(self) -> AccountFilters:
        """The filters alone."""
        return AccountFilters.model_validate(
            self.model_dump(include=set(AccountFilters.model_fields))
        )


_FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The inventory file (see the README's 'Importing the inventory').",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    "/import",
    responses=problems(BadRequest, Conflict, PayloadTooLarge, DecryptionFailed),
    openapi_extra=_FILE_BODY,
)
def import_inventory(
    data: Annotated[bytes, Depends(file_body)],
    chosen: Annotated[FileFormat, Depends(file_format)],
    session: DbSession,
    principal: CanWriteAccounts,
    dry_run: bool = False,
    mode: Mode = Mode.UPSERT,
) -> ImportReport:
    """Create and update people and accounts from a CSV or JSON file: every row, or nothing.

    Errors name the line (CSV) or position (JSON) and the column; ``dry_run`` reports what
    would change and stores nothing; ``mode=attest`` re-records facts of existing accounts.
    """
    return importer.import_file(
        session, principal=principal, data=data, file_format=chosen, mode=mode, dry_run=dry_run
    )


@router.get(
    "/export",
    responses={
        200: {
            "description": "The inventory file.",
            "content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {}},
        },
        **problems(BadRequest, NotFound, DecryptionFailed, TooManyRequests),
    },
    response_class=Response,
)
def export_inventory(
    query: Annotated[ExportQuery, Query()], session: DbSession, principal: CanReadAccounts
) -> Response:
    """People and accounts on your missions as CSV or JSON (recovery masked without the right).

    Each user has a limited number of exports per hour (429 with ``Retry-After`` beyond it).
    """
    # Checked first, spent last: the file is built without holding SQLite's write lock.
    allowance.check(session, principal=principal)
    result = exporter.export(
        session, principal=principal, file_format=query.format, filters=query.filters()
    )
    allowance.spend(session, principal=principal)
    disposition = f'attachment; filename="{result.filename}"'
    return Response(
        content=result.body,
        media_type=result.media_type,
        headers={"Content-Disposition": disposition},
    )
