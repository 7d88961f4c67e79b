"""Route permissions: every route names one through an ``Annotated`` alias; deny by default.

Credentials come only from the ``Authorization: Bearer`` header, never from the URL or a query
parameter. ``secops_s_…`` is a session token, ``secops_k_…`` an API key and ``secops_t_…`` a
token a key was exchanged for; anything else is 401. Roles are read from the live grants on
every request, so a revoked grant applies at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from secops.audit.models import Outcome
from secops.auth import resolve, tokens
from secops.auth.events import AuthEvent, emit
from secops.core.db import SAFE_METHODS, DbSession
from secops.core.errors import Forbidden, Unauthenticated
from secops.core.logging import bind_request_context
from secops.core.principal import Permission, Principal, PrincipalKind

API_PREFIX: Final = "/api/v1"

# Routes that answer without credentials; the route-walk test allows exactly these.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("POST", f"{API_PREFIX}/auth/login"),
        ("POST", f"{API_PREFIX}/auth/bootstrap"),
        ("POST", f"{API_PREFIX}/auth/redeem"),
    }
)


class EnrolmentRequired(Forbidden):
    """The session was opened by password alone; only TOTP enrolment (and logout) is allowed."""

    type, title = "urn:secops:problem:mfa-enrolment-required", "TOTP enrolment required"


_NO_CREDENTIALS: Final = "Sign in, or send an API key or key token in the Authorization header."


def bearer_token(request: Request) -> str | None:
    """The token in ``Authorization: Bearer …``; nothing else is read."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def current_principal(request: Request, session: DbSession) -> Principal:
    """Resolve the caller from its session token, API key or key token; 401 when there is none.

    Reads (GET, HEAD, OPTIONS) resolve it in one statement on the event loop; anything that may
    write resolves it again inside its transaction, with the rows it rests on locked
    (``resolve``).
    """
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated(_NO_CREDENTIALS)
    writes = request.method not in SAFE_METHODS
    if token.startswith(tokens.SESSION_PREFIX):
        principal, enrolment_only = await resolve.session_principal(session, token, writes=writes)
        bind_request_context(user_id=str(principal.id))
        if enrolment_only:
            raise EnrolmentRequired("Enrol TOTP first (POST /api/v1/auth/totp/start).")
        return principal
    if token.startswith(tokens.API_KEY_PREFIX):
        principal = await resolve.key_principal(session, token, writes=writes)
    elif token.startswith(tokens.KEY_TOKEN_PREFIX):
        principal = await resolve.key_token_principal(session, token, writes=writes)
    else:
        raise Unauthenticated(_NO_CREDENTIALS)
    bind_request_context(user_id=str(principal.id))
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


_KEY_REFUSED: Final = "API keys cannot be used here; sign in as a person."


def refuse(
    session: DbSession, principal: Principal, request: Request, *, reason: str, detail: str
) -> Forbidden:
    """Record an authorisation failure (committed, so the rollback keeps it) and return a 403."""
    route = request.scope.get("route")
    emit(
        session,
        AuthEvent.AUTHZ_FAIL,
        principal=principal,
        user_id=principal.id,
        outcome=Outcome.FAILURE,
        details={
            "reason": reason,
            "method": request.method,
            "route": str(getattr(route, "path", request.url.path)),
        },
    )
    session.commit()
    return Forbidden(detail)


class AccessPolicy:
    """Base of every route-level policy; the route-walk test accepts a route that depends on one."""


class PermissionRequirement(AccessPolicy):
    """A dependency that admits only principals holding ``permission`` on some mission."""

    def __init__(self, permission: Permission, *, people_only: bool = False) -> None:
        self.permission = permission
        self.people_only = people_only

    async def __call__(
        self, principal: CurrentPrincipal, session: DbSession, request: Request
    ) -> Principal:
        # Async: the check itself is pure and costs no threadpool hop; only a refusal, which
        # writes its audit row, goes to the threadpool.
        if self.people_only and principal.kind is PrincipalKind.API_KEY:
            raise await run_in_threadpool(
                refuse, session, principal, request, reason="api_key", detail=_KEY_REFUSED
            )
        if not principal.has(self.permission):
            detail = f"Your role does not allow this ({self.permission.value})."
            raise await run_in_threadpool(
                refuse, session, principal, request, reason=self.permission.value, detail=detail
            )
        return principal

    def __repr__(self) -> str:
        return f"requires({self.permission.value})"


def requires(permission: Permission, *, people_only: bool = False) -> Any:
    """``Annotated[Principal, requires(Permission.X)]``: the route's declared permission."""
    return Depends(PermissionRequirement(permission, people_only=people_only))


class SignedInPerson(AccessPolicy):
    """Any person with a full session (own profile, sessions, password); never an API key."""

    async def __call__(
        self, principal: CurrentPrincipal, session: DbSession, request: Request
    ) -> Principal:
        if principal.kind is not PrincipalKind.USER:
            raise await run_in_threadpool(
                refuse, session, principal, request, reason="api_key", detail=_KEY_REFUSED
            )
        return principal

    def __repr__(self) -> str:
        return "signed_in_person"


class EnrollingPerson(AccessPolicy):
    """A person with any session, enrolment-only included: TOTP enrolment and logout."""

    async def __call__(self, request: Request, session: DbSession) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise Unauthenticated(_NO_CREDENTIALS)
        if not token.startswith(tokens.SESSION_PREFIX):
            if token.startswith((tokens.API_KEY_PREFIX, tokens.KEY_TOKEN_PREFIX)):
                raise Forbidden(_KEY_REFUSED)
            raise Unauthenticated(_NO_CREDENTIALS)
        writes = request.method not in SAFE_METHODS
        principal, _ = await resolve.session_principal(session, token, writes=writes)
        bind_request_context(user_id=str(principal.id))
        return principal

    def __repr__(self) -> str:
        return "enrolling_person"


_KEY_ONLY: Final = "Only an API key can be exchanged for a token; send the key itself."


class KeyExchange(AccessPolicy):
    """Admits only a caller that sent an API key itself: exchanging it for a short-lived token.

    A session, or a token a key was already exchanged for, is refused (403).
    """

    async def __call__(
        self, principal: CurrentPrincipal, session: DbSession, request: Request
    ) -> Principal:
        token = bearer_token(request) or ""
        if principal.kind is not PrincipalKind.API_KEY or not token.startswith(
            tokens.API_KEY_PREFIX
        ):
            raise await run_in_threadpool(
                refuse, session, principal, request, reason="not_an_api_key", detail=_KEY_ONLY
            )
        return principal

    def __repr__(self) -> str:
        return "api_key_itself"


CurrentPerson = Annotated[Principal, Depends(SignedInPerson())]
ExchangingKey = Annotated[Principal, Depends(KeyExchange())]
EnrollingUser = Annotated[Principal, Depends(EnrollingPerson())]

CanReadMissions = Annotated[Principal, requires(Permission.MISSIONS_READ)]
CanWriteMissions = Annotated[Principal, requires(Permission.MISSIONS_WRITE)]
CanReadAudit = Annotated[Principal, requires(Permission.AUDIT_READ)]
CanReadAccounts = Annotated[Principal, requires(Permission.ACCOUNTS_READ)]
CanWriteAccounts = Annotated[Principal, requires(Permission.ACCOUNTS_WRITE)]
CanReadUsers = Annotated[Principal, requires(Permission.USERS_READ, people_only=True)]
CanAdminUsers = Annotated[Principal, requires(Permission.USERS_ADMIN, people_only=True)]
CanAdminConnectors = Annotated[Principal, requires(Permission.CONNECTORS_ADMIN)]
