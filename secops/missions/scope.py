"""The one way any domain filters rows by mission: ``scope(query, principal, permission, column)``.

Every repository that reads mission-owned rows passes its statement through ``scope`` (a test
parses each ``repository.py`` to make sure). A principal holding the permission everywhere sees
every row; one holding it nowhere sees none, through a condition that is always false rather than
an error, so lists are empty and single objects are 404 exactly like missing ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, Self, TypeVar

from sqlalchemy import ColumnElement, false
from sqlmodel import col

from secops.core.inline import InlineReader
from secops.core.principal import Everywhere, Permission, Principal
from secops.missions.hierarchy import descendants, expand

__all__ = ["descendants", "expand", "fetch_visible", "mission_condition", "scope", "visible"]


class Filterable(Protocol):
    """A statement that takes a WHERE clause: select, update or delete."""

    def where(self, *whereclause: Any) -> Self:
        """The statement with ``whereclause`` ANDed in."""
        ...


Statement = TypeVar("Statement", bound=Filterable)


def mission_condition(
    principal: Principal, permission: Permission, column: Any
) -> ColumnElement[bool] | None:
    """The WHERE clause ``scope`` adds: None when the principal reaches every mission.

    ``column`` is a mapped mission-id column (``Account.mission_id``) or a column expression.
    Rows whose mission is NULL only match for a principal holding the permission everywhere.
    """
    reach = principal.missions_with(permission)
    if isinstance(reach, Everywhere):
        return None
    if not reach:
        return false()
    # ``col`` refuses anything that is not a column, so a wrong argument fails loudly.
    target = column if isinstance(column, ColumnElement) else col(column)
    return target.in_(sorted(reach))


def scope(
    statement: Statement, principal: Principal, permission: Permission, column: Any
) -> Statement:
    """``statement`` narrowed to the missions on which ``principal`` holds ``permission``."""
    condition = mission_condition(principal, permission, column)
    if condition is None:
        return statement
    return statement.where(condition)


def visible(row: Any | None, principal: Principal, permission: Permission, key: str) -> Any | None:
    """``row`` if ``mission_condition`` would have let it through, else None.

    The row-level form of ``scope``, for a row read by its id with a statement built once at
    import (``core.inline``): its SQL cannot carry the caller's missions. ``key`` names the
    row's mission-id attribute. The answer is the one ``scope`` gives: a principal holding the
    permission everywhere sees every row (a NULL mission included); anyone else sees the rows
    of the missions they reach, and a refused row is as absent as a missing one.
    """
    if row is None or not principal.can(permission, getattr(row, key)):
        return None
    return row


async def fetch_visible(
    reader: InlineReader,
    statement: Any,
    params: Mapping[str, Any],
    principal: Principal,
    permission: Permission,
    key: str,
) -> Any | None:
    """The row ``statement`` reads by primary key, on the event loop, if ``visible``; else None."""
    rows = await reader.fetch(statement, params)
    return visible(rows[0] if rows else None, principal, permission, key)
