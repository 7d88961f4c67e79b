"""Deny by default (ASVS 8.2.1, API5): every route declares who may call it, and it holds.

The walk reads each route's dependency tree for an ``AccessPolicy`` (``requires(...)``,
``CurrentPerson``, ...). The matrix then calls every route as every kind of principal and checks
the outcome class against ``ROLE_PERMISSIONS``, the policy the application is meant to enforce.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from secops.auth.deps import PUBLIC_ROUTES, CanReadMissions
from secops.core.db import SessionFactory
from secops.core.principal import ROLE_PERMISSIONS, Permission, Role
from secops.missions.models import MissionKind
from tests.factories.access import make_grant, make_user
from tests.factories.missions import make_mission
from tests.security.callers import key_headers, session_headers
from tests.security.routing import WRITE_METHODS, RouteCase, fill, route_cases

NEVER_ON_KEYS = frozenset({Permission.USERS_ADMIN})


def test_every_route_declares_a_policy(app: FastAPI) -> None:
    cases = route_cases(app)
    offenders = sorted(str(c) for c in cases if not c.declared)
    assert len(cases) > 10
    assert not offenders, "Routes without a permission or policy:\n" + "\n".join(offenders)


def test_public_allow_list_names_only_real_routes(app: FastAPI) -> None:
    served = {c.key for c in route_cases(app)}
    stale = sorted(f"{m} {p}" for m, p in PUBLIC_ROUTES - served)
    assert not stale, f"PUBLIC_ROUTES entries that match no route: {stale}"


def test_public_routes_declare_no_permission(app: FastAPI) -> None:
    both = sorted(str(c) for c in route_cases(app) if c.public and c.permissions)
    assert not both, f"Routes both public and permission-guarded: {both}"


def test_the_walk_catches_a_route_without_a_policy() -> None:
    probe = FastAPI()
    router = APIRouter(prefix="/api/v1")

    @router.get("/open")
    def open_route() -> dict[str, str]:
        return {}

    @router.get("/guarded")
    def guarded_route(principal: CanReadMissions) -> dict[str, str]:
        return {}

    probe.include_router(router)
    undeclared = [str(c) for c in route_cases(probe) if not c.declared]
    assert undeclared == ["GET /api/v1/open"]


# --- the route x principal matrix (BFLA) -----------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """One column of the matrix: a role held ministry-wide, an API key, or nobody."""

    name: str
    role: Role | None = None
    key_scope: frozenset[Permission] | None = None

    def may(self, case: RouteCase) -> bool:
        """What the policy says: True if the route must let this caller through."""
        if case.public:
            return True
        if case.keys_only:
            return self.key_scope is not None
        if self.key_scope is not None:
            if case.people_only:
                return False
            return all(p in self.key_scope for p in case.permissions)
        if self.role is None:
            return False
        return all(p in ROLE_PERMISSIONS[self.role] for p in case.permissions)


CALLERS = (
    Caller("anonymous"),
    *(Caller(role.value, role=role) for role in Role),
    Caller("key:all", role=Role.ADMIN, key_scope=frozenset(Permission) - NEVER_ON_KEYS),
    Caller("key:missions-read", role=Role.ADMIN, key_scope=frozenset({Permission.MISSIONS_READ})),
)


def _users_by_caller(sessions: SessionFactory) -> dict[str, uuid.UUID]:
    with sessions.begin() as s:
        make_mission(s, "HQ", kind=MissionKind.HQ)
        users = {}
        for caller in CALLERS:
            if caller.role is None:
                continue
            user = make_user(s, f"matrix-{caller.name.replace(':', '-')}")
            make_grant(s, user, caller.role)
            users[caller.name] = user.id
    return users


def _headers(sessions: SessionFactory, caller: Caller, user_id: uuid.UUID | None) -> dict[str, str]:
    if user_id is None:
        return {}
    with sessions.begin() as s:
        if caller.key_scope is not None:
            return key_headers(s, user_id, caller.key_scope)
        # A fresh session for every cell: logout and "end my sessions" must not leak across.
        return session_headers(s, user_id)


def _send(client: TestClient, case: RouteCase, headers: dict[str, str]) -> int:
    body = {} if case.method in WRITE_METHODS else None
    return client.request(case.method, fill(case), json=body, headers=headers).status_code


def call_every_route(
    app: FastAPI, client: TestClient, sessions: SessionFactory
) -> list[tuple[RouteCase, Caller, int]]:
    """Every route called by every caller with real credentials: (route, caller, status)."""
    users = _users_by_caller(sessions)
    cases = route_cases(app)
    cells = []
    for caller in CALLERS:
        key = _headers(sessions, caller, users.get(caller.name)) if caller.key_scope else None
        for case in cases:
            headers = key or _headers(sessions, caller, users.get(caller.name))
            cells.append((case, caller, _send(client, case, headers)))
    return cells


def test_route_by_principal_matrix_matches_the_policy(
    app: FastAPI, client: TestClient, sessions: SessionFactory
) -> None:
    matrix = call_every_route(app, client, sessions)
    mismatches = []
    for case, caller, status in matrix:
        allowed = caller.may(case)
        if allowed:
            # 503 is a deliberate answer (/readyz before migrations); 500 never is.
            ok = status not in (401, 403, 500)
        else:
            ok = status == (401 if caller.name == "anonymous" else 403)
        if not ok:
            verdict = "allow" if allowed else "deny"
            mismatches.append(f"{caller.name:18} {case!s:55} expected {verdict}, got {status}")
    routes = {c.key for c, _, _ in matrix}
    print(f"\nBFLA matrix: {len(routes)} routes x {len(CALLERS)} callers = {len(matrix)} cells")
    assert len(matrix) == len(routes) * len(CALLERS)
    assert not mismatches, "\n".join(mismatches)
    # Not vacuous: every caller but the ministry admin is refused somewhere and let in somewhere
    # (the admin only where a key is required: the key-for-token exchange).
    for caller in CALLERS:
        refused = {
            status in (401, 403)
            for case, c, status in matrix
            if c == caller and not (case.keys_only and caller.key_scope is None)
        }
        unlimited = caller.role == Role.ADMIN and caller.key_scope is None
        assert refused == ({False} if unlimited else {True, False}), caller.name
