"""Route permissions: every route names one through an ``Annotated`` alias; deny by default."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from secops.core.db import DbSession
from secops.core.errors import Forbidden, Unauthenticated
from secops.core.principal import Permission, Principal

# Routes that answer without credentials; the route-walk test allows exactly these.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
    }
)


def current_principal(request: Request, session: DbSession) -> Principal:
    """Resolve the caller from its session token or API key; 401 when there is none."""
    raise Unauthenticated("Sign in, or send an API key in the Authorization header.")


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


class PermissionRequirement:
    """A dependency that admits only principals holding ``permission`` on some mission."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(self, principal: CurrentPrincipal) -> Principal:
        if not principal.has(self.permission):
            raise Forbidden(f"Your role does not allow this ({self.permission.value}).")
        return principal

    def __repr__(self) -> str:
        return f"requires({self.permission.value})"


def requires(permission: Permission) -> Any:
    """``Annotated[Principal, requires(Permission.X)]``: the route's declared permission."""
    return Depends(PermissionRequirement(permission))


CanReadMissions = Annotated[Principal, requires(Permission.MISSIONS_READ)]
CanWriteMissions = Annotated[Principal, requires(Permission.MISSIONS_WRITE)]
CanReadAudit = Annotated[Principal, requires(Permission.AUDIT_READ)]
CanReadUsers = Annotated[Principal, requires(Permission.USERS_READ)]
CanAdminUsers = Annotated[Principal, requires(Permission.USERS_ADMIN)]
