"""API shapes for missions: create, update, read, page and tree."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator

from secops.core.pagination import Page
from secops.missions.countries import is_country_code
from secops.missions.models import MissionKind, MissionStatus, Region

CODE_PATTERN = r"^[A-Z0-9]+(-[A-Z0-9]+)*$"
# Printable text only: names end up in reports, PDFs and terminal output.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


def _country(value: str) -> str:
    if not is_country_code(value):
        # The message names the rule, never the submitted value.
        raise ValueError("not an ISO 3166-1 alpha-2 country code (upper case, e.g. FR)")
    return value


MissionCode = Annotated[str, StringConstraints(min_length=2, max_length=32, pattern=CODE_PATTERN)]
CountryCode = Annotated[
    str, StringConstraints(min_length=2, max_length=2), AfterValidator(_country)
]
MissionName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_PRINTABLE),
]
CityName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_PRINTABLE),
]
SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_PRINTABLE),
]


class MissionCreate(BaseModel):
    """A new mission; only the headquarters has no parent."""

    model_config = ConfigDict(extra="forbid")

    code: MissionCode
    name: MissionName
    kind: MissionKind
    country: CountryCode
    city: CityName
    region: Region
    parent_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _hq_is_the_only_root(self) -> MissionCreate:
        if self.kind == MissionKind.HQ and self.parent_id is not None:
            raise ValueError("the headquarters has no parent_id")
        if self.kind != MissionKind.HQ and self.parent_id is None:
            raise ValueError("parent_id is required for every mission but the headquarters")
        return self


class MissionUpdate(BaseModel):
    """Changes to a mission; the code, status and server-kept fields are not writable."""

    model_config = ConfigDict(extra="forbid")

    name: MissionName | None = None
    kind: MissionKind | None = None
    country: CountryCode | None = None
    city: CityName | None = None
    region: Region | None = None
    parent_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _no_explicit_nulls(self) -> MissionUpdate:
        # Omit a field to keep it; null would erase a required value.
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"omit a field to leave it unchanged; null is not allowed: {nulls}")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent."""
        return self.model_dump(exclude_unset=True)


class MissionRead(BaseModel):
    """A mission as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    kind: MissionKind
    country: str
    city: str
    region: Region
    parent_id: uuid.UUID | None
    status: MissionStatus
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int


MissionPage = Page[MissionRead]


class MissionNode(BaseModel):
    """One mission in the tree and the visible missions under it."""

    id: uuid.UUID
    code: str
    name: str
    kind: MissionKind
    status: MissionStatus
    children: list[MissionNode] = []


class PageQuery(BaseModel):
    """Where a page starts and how long it is; an unknown query parameter is a 422."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None
    limit: int | None = None


class MissionFilters(BaseModel):
    """What ``GET /missions`` can narrow on; every value is validated like the payloads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: MissionCode | None = None
    kind: MissionKind | None = None
    country: CountryCode | None = None
    region: Region | None = None
    status: MissionStatus | None = None
    parent_id: uuid.UUID | None = None
    q: SearchText | None = None


class MissionListQuery(MissionFilters, PageQuery):
    """The query string of ``GET /missions``: filters plus paging."""

    def filters(self) -> MissionFilters:
        """The filters alone."""
        return MissionFilters.model_validate(
            self.model_dump(include=set(MissionFilters.model_fields))
        )
