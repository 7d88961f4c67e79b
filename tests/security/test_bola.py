"""BOLA matrix (ASVS 8.2.2, API1): objects of other missions answer exactly like missing ones.

Every role gets a user granted on mission A only (no children), signed in for real, and an API
key of that user limited to A. Each route whose path names a registered object type is called
with the ids of objects outside A (mission B, B's child, the HQ, A's own child, ministry-wide
objects) and with a random id: both must give the same status and the same problem body. Routes
of later domains are picked up by walking ``app.routes``; register their id parameter in
``TargetBook`` and the matrix covers them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from secops.audit.models import AuditEvent
from secops.auth import tokens
from secops.auth.access import service as access_service
from secops.auth.models import UserSession
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import ROLE_PERMISSIONS, Permission, Principal, Role, system_principal
from secops.missions.models import Mission, MissionKind
from secops.policy import service as policy_service
from tests.factories.accounts import make_account, make_person
from tests.factories.auth import grant, login_headers, make_user
from tests.factories.connectors import make_connector
from tests.factories.missions import make_mission
from tests.factories.waivers import make_waiver
from tests.security.callers import key_headers, session_headers
from tests.security.routing import WRITE_METHODS, RouteCase, comparable, fill, route_cases

# Path parameters that name per-user objects rather than mission-scoped ones; their routes are
# covered by the identity tests, not by this matrix.
# ``policy_id`` names a policy file on the server, the same for everyone.
NOT_MISSION_SCOPED = frozenset({"user_id", "reset_id", "policy_id"})


@dataclass
class TargetBook:
    """Per path parameter: ids outside mission A (label → id) and one id inside A, if any."""

    foreign: dict[str, dict[str, str]] = field(default_factory=dict)
    own: dict[str, str] = field(default_factory=dict)

    def add(self, param: str, label: str, value: object) -> None:
        """Register an out-of-scope object."""
        self.foreign.setdefault(param, {})[label] = str(value)


@dataclass(frozen=True)
class Caller:
    """A user granted one role on mission A only, through a session or an API key."""

    role: Role
    via: str
    headers: dict[str, str]

    def may(self, case: RouteCase) -> bool:
        """True if the route's policy lets this caller in at all (then B's objects are 404)."""
        if self.via == "key" and case.people_only:
            return False
        return all(p in ROLE_PERMISSIONS[self.role] for p in case.permissions)

    def __str__(self) -> str:
        return f"{self.role.value}/{self.via}"


def _mission_tree(s: Session) -> dict[str, Mission]:
    hq = make_mission(s, "HQ", kind=MissionKind.HQ)
    a = make_mission(s, "EMB-A", parent=hq)
    b = make_mission(s, "EMB-B", parent=hq)
    return {
        "hq": hq,
        "a": a,
        "b": b,
        "a-child": make_mission(s, "CON-A1", parent=a),
        "b-child": make_mission(s, "CON-B1", parent=b),
    }


@pytest.fixture
def world(
    client: TestClient, clock: FrozenClock, sessions: SessionFactory
) -> tuple[TargetBook, list[Caller]]:
    """Missions, a victim with objects everywhere but A, and the callers on A."""
    book = TargetBook()
    with sessions.begin() as s:
        missions = _mission_tree(s)
        outside = {k: m for k, m in missions.items() if k != "a"}
        victim = make_user(s, username="victim")
        for label, mission in outside.items():
            grant(s, victim, Role.OFFICER, mission_id=mission.id, include_children=False)
            book.add("mission_id", label, mission.id)
        grant(s, victim, Role.AUDITOR)
        for g in access_service.list_grants(
            s, principal=_root(), user_id=victim.id, include_revoked=False
        ):
            label = next((k for k, m in outside.items() if m.id == g.mission_id), "ministry")
            book.add("grant_id", label, g.id)
            book.add("seq", label, _audit_seq_of(s, g.id))
        book.add("session_id", "victim", _session_id(session_headers(s, victim.id), s))
        for label, scope in (("b", [missions["b"].id]), ("owner-wide", None)):
            key_headers(s, victim.id, [Permission.MISSIONS_READ], scope, name=label)
        for key in access_service.list_api_keys(s, principal=_root(), everyone=True):
            book.add("key_id", key.name, key.id)
        book.own["mission_id"] = str(missions["a"].id)
        _inventory(s, missions, book)
        _connectors(s, missions, book)
        _waivers(s, missions, book)
    with sessions.begin() as s:
        _policy_runs(s, missions, book)
    callers = _callers(client, clock, sessions, missions["a"].id, book)
    return book, callers


def _inventory(s: Session, missions: dict[str, Mission], book: TargetBook) -> None:
    """A person and an account on every mission: A's are the caller's own, the rest foreign."""
    for label, mission in missions.items():
        person = make_person(s, mission)
        account = make_account(s, mission, owner=person)
        if label == "a":
            book.own["person_id"], book.own["account_id"] = str(person.id), str(account.id)
        else:
            book.add("person_id", label, person.id)
            book.add("account_id", label, account.id)


def _connectors(s: Session, missions: dict[str, Mission], book: TargetBook) -> None:
    """A Graph connector on every mission: A's is the caller's own, the rest foreign."""
    for label, mission in missions.items():
        connector = make_connector(s, mission)
        if label == "a":
            book.own["connector_id"] = str(connector.id)
        else:
            book.add("connector_id", label, connector.id)


def _waivers(s: Session, missions: dict[str, Mission], book: TargetBook) -> None:
    """An approved waiver on every mission: A's is the caller's own, the rest foreign."""
    for label, mission in missions.items():
        waiver = make_waiver(s, mission)
        if label == "a":
            book.own["waiver_id"] = str(waiver.id)
        else:
            book.add("waiver_id", label, waiver.id)


def _policy_runs(s: Session, missions: dict[str, Mission], book: TargetBook) -> None:
    """A baseline evaluation of A alone (the caller's own) and of B alone (foreign)."""
    for label in ("a", "b"):
        run = policy_service.evaluate(s, principal=_root(), mission_id=missions[label].id)
        if label == "a":
            book.own["run_id"] = str(run.id)
        else:
            book.add("run_id", label, run.id)


def _root() -> Principal:
    return system_principal("bola")


def _audit_seq_of(s: Session, object_id: uuid.UUID) -> int:
    query = select(AuditEvent.seq).where(col(AuditEvent.object_id) == str(object_id))
    return int(s.exec(query).one())


def _session_id(headers: dict[str, str], s: Session) -> uuid.UUID:
    token = headers["Authorization"].removeprefix("Bearer ")
    query = select(UserSession.id).where(UserSession.token_hash == tokens.digest(token))
    found: uuid.UUID = s.exec(query).one()
    return found


def _callers(
    client: TestClient,
    clock: FrozenClock,
    sessions: SessionFactory,
    mission_a: uuid.UUID,
    book: TargetBook,
) -> list[Caller]:
    callers = []
    for role in Role:
        with sessions.begin() as s:
            user = make_user(s, username=f"bola-{role.value}")
            grant(s, user, role, mission_id=mission_a, include_children=False)
            own_event = _audit_seq_of(s, _only_grant(s, user.id))
        book.own.setdefault("seq", str(own_event))
        callers.append(Caller(role, "session", login_headers(client, clock, user)))
        with sessions.begin() as s:
            scope = ROLE_PERMISSIONS[role] - {Permission.USERS_ADMIN}
            callers.append(Caller(role, "key", key_headers(s, user.id, scope, [mission_a])))
    return callers


def _only_grant(s: Session, user_id: uuid.UUID) -> uuid.UUID:
    (only,) = access_service.list_grants(s, principal=_root(), user_id=user_id)
    return only.id


def _object_routes(app: FastAPI, book: TargetBook) -> tuple[list[RouteCase], list[str]]:
    covered, skipped = [], []
    for case in route_cases(app):
        params = case.params
        if not params or case.public:
            continue
        if all(p in book.foreign for p in params):
            covered.append(case)
        elif not set(params) <= NOT_MISSION_SCOPED:
            skipped.append(str(case))
    return covered, skipped


def _call(
    client: TestClient, case: RouteCase, caller: Caller, values: dict[str, str]
) -> httpx.Response:
    body = {} if case.method in WRITE_METHODS else None
    return client.request(case.method, fill(case, values), json=body, headers=caller.headers)


def test_other_missions_objects_are_404_like_missing_ones(
    app: FastAPI, client: TestClient, world: tuple[TargetBook, list[Caller]]
) -> None:
    book, callers = world
    cases, skipped = _object_routes(app, book)
    assert not skipped, f"Register these routes' id parameters in TargetBook: {skipped}"
    failures, pairs, not_found = [], 0, 0
    for case in cases:
        labels = [book.foreign[p] for p in case.params]
        targets = [{p: labels[i][label] for i, p in enumerate(case.params)} for label in labels[0]]
        for caller in callers:
            for values in targets:
                hidden = _call(client, case, caller, values)
                missing = _call(client, case, caller, {})
                pairs += 1
                expected = 404 if caller.may(case) else 403
                not_found += hidden.status_code == 404
                same = comparable(hidden.json()) == comparable(missing.json())
                if hidden.status_code != expected or missing.status_code != expected or not same:
                    failures.append(
                        f"{caller!s:18} {case!s:45} {values} -> {hidden.status_code} "
                        f"(random id: {missing.status_code}, same body: {same})"
                    )
    print(
        f"\nBOLA matrix: {len(cases)} object routes x {len(callers)} callers; "
        f"{pairs} pairs tried, {not_found} answered 404, {len(failures)} failures"
    )
    assert pairs >= 200
    assert not failures, "\n".join(failures)


def test_callers_do_reach_their_own_missions_objects(
    app: FastAPI, client: TestClient, world: tuple[TargetBook, list[Caller]]
) -> None:
    book, callers = world
    cases, _ = _object_routes(app, book)
    reads = [c for c in cases if c.method == "GET" and all(p in book.own for p in c.params)]
    checked = 0
    for case in reads:
        for caller in callers:
            response = _call(client, case, caller, book.own)
            if caller.may(case):
                assert response.status_code == 200, f"{caller} {case}: {response.status_code}"
                checked += 1
    assert reads
    assert checked >= len(reads)
