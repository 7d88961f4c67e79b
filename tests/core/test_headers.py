"""Security headers on every route and every outcome, found by walking ``app.routes``.

Routes added later are covered without touching this file: each test builds its requests from
the route table (path template, methods, declared parameters).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from secops.auth.deps import current_principal
from secops.core.db import get_session
from tests.core.probes import PROBE_PREFIX, assert_problem

PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ONE_YEAR = 31_536_000
# Routes that fail on purpose: the probes that crash, and readiness before any migration.
DELIBERATE_FAILURES = {f"{PROBE_PREFIX}/crash", f"{PROBE_PREFIX}/sql-crash", "/readyz"}


def assert_security_headers(response: httpx.Response) -> None:
    """The API's security headers (property 41) and no Server banner (property 44)."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    headers = response.headers
    hsts = headers.get("strict-transport-security", "")
    max_age = re.search(r"max-age=(\d+)", hsts)
    assert max_age, where
    assert int(max_age.group(1)) >= ONE_YEAR, where
    assert "includesubdomains" in hsts.lower(), where
    assert headers.get("x-content-type-options") == "nosniff", where
    csp = headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp, where
    assert "frame-ancestors 'none'" in csp, where
    assert headers.get("referrer-policy") == "no-referrer", where
    assert headers.get("cache-control") == "no-store", where
    assert "server" not in headers, where
    assert uuid.UUID(headers["x-request-id"]), where


@dataclass(frozen=True)
class Endpoint:
    """One method on one route of the table."""

    method: str
    template: str
    route: RouteContext

    @property
    def dependants(self) -> list[Dependant]:
        """The route's endpoint and every dependency under it."""
        if isinstance(self.route.original_route, APIRoute):
            return [self.route.dependant, *_all_dependants(self.route.dependant)]
        return []

    def path(self, value: Callable[[str], str] = lambda _name: str(uuid.uuid4())) -> str:
        """The template with every parameter filled in by ``value``."""
        return PARAM.sub(lambda m: value(m.group(1)), self.template)

    def calls(self, *dependencies: Callable[..., Any]) -> bool:
        """True if the route depends, at any depth, on one of ``dependencies``."""
        return any(dep.call in dependencies for dep in self.dependants)


def _all_dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _all_dependants(sub)


def route_table(app: FastAPI) -> list[RouteContext]:
    """Every route, included routers flattened (FastAPI keeps them nested in ``app.routes``)."""
    return list(iter_route_contexts(app.routes))


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (method, route) the application answers; mounts are probed under their prefix."""
    found: list[Endpoint] = []
    for route in route_table(app):
        if isinstance(route.original_route, Mount):
            found.append(Endpoint("GET", f"{route.path}/__probe__", route))
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append(Endpoint(method, route.path or "", route))
    return found


def methods_by_path(app: FastAPI) -> dict[str, set[str]]:
    """What each path template declares, across the routes that share it."""
    declared: dict[str, set[str]] = {}
    for route in route_table(app):
        if route.path and route.methods:
            declared.setdefault(route.path, set()).update(route.methods)
    return declared


def invalid_request(endpoint: Endpoint) -> dict[str, Any] | None:
    """Request arguments that fail the route's declared validation, or None if it has none."""
    dependants = endpoint.dependants
    # A parameter with a path convertor ({id:uuid}) never reaches validation: a bad value is a
    # 404 from routing. Only the others can be made to fail validation through the path.
    typed = {
        p.alias
        for d in dependants
        for p in d.path_params
        if p.field_info.annotation is not str and f"{{{p.alias}:" not in endpoint.template
    }
    if typed:
        return {"url": endpoint.path(lambda name: "not-valid" if name in typed else "x")}
    if dependants and endpoint.route.body_field is not None:
        return {
            "url": endpoint.path(),
            "content": b"{not json",
            "headers": {"content-type": "application/json"},
        }
    for query in (q for d in dependants for q in d.query_params):
        if query.field_info.annotation in (int, uuid.UUID, float):
            return {"url": endpoint.path(), "params": {query.alias: "not-valid"}}
    return None


@pytest.fixture
def routes(probed_app: FastAPI) -> list[Endpoint]:
    """The route table, probe routes included; never empty."""
    found = endpoints(probed_app)
    templates = {e.template for e in found}
    assert {"/healthz", "/readyz", f"{PROBE_PREFIX}/notes"} <= templates
    return found


def test_walk_finds_every_route_declared_by_the_app(
    probed_app: FastAPI, routes: list[Endpoint]
) -> None:
    declared = {
        (m, r.path) for r in route_table(probed_app) for m in (r.methods or ()) if m != "HEAD"
    }

    assert {(e.method, e.template) for e in routes} == declared


def test_headers_on_every_route_as_an_admin(probe: TestClient, routes: list[Endpoint]) -> None:
    # The route's own handler runs: collections answer 2xx, item routes 404 on a random id,
    # body routes 422 on an empty object, routes about the caller's own user 404 (the admin
    # here has no stored user). Whatever it answers carries the headers, and nothing is a 5xx.
    outcomes: dict[str, int] = {}
    for endpoint in routes:
        kwargs: dict[str, Any] = {}
        if endpoint.method in {"POST", "PUT", "PATCH"}:
            kwargs["json"] = {}
        response = probe.request(endpoint.method, endpoint.path(), **kwargs)
        assert_security_headers(response)
        if endpoint.template not in DELIBERATE_FAILURES:
            assert response.status_code < 500, f"{endpoint} -> {response.text}"
        outcomes[f"{endpoint.method} {endpoint.template}"] = response.status_code

    ok = {route for route, status in outcomes.items() if 200 <= status < 300}
    assert {"GET /healthz", "GET /openapi.json", f"GET {PROBE_PREFIX}/notes"} <= ok


def test_headers_on_404_under_every_route(probe: TestClient, routes: list[Endpoint]) -> None:
    shapes = [re.compile(PARAM.sub("[^/]+", e.template) + "$") for e in routes]
    checked = []
    for endpoint in routes:
        path = endpoint.path() + "/no-such-thing"
        if any(shape.match(path) for shape in shapes):
            continue  # another route owns that shape
        response = probe.request(endpoint.method, path)
        assert_problem(response, 404)
        assert_security_headers(response)
        checked.append(endpoint.template)

    assert "/healthz" in checked
    assert f"{PROBE_PREFIX}/notes/{{note_id}}" in checked


def test_headers_on_404_from_a_handler(probe: TestClient) -> None:
    response = probe.get(f"{PROBE_PREFIX}/notes/{uuid.uuid4()}")

    assert_problem(response, 404)
    assert_security_headers(response)


def test_headers_on_405_for_every_path(probed_app: FastAPI, probe: TestClient) -> None:
    for template, declared in methods_by_path(probed_app).items():
        path = PARAM.sub(lambda _m: str(uuid.uuid4()), template)
        undeclared = next(m for m in ALL_METHODS if m not in declared)
        for method in ("TRACE", undeclared):
            response = probe.request(method, path)
            assert_problem(response, 405)
            assert_security_headers(response)
            assert set(response.headers["allow"].split(", ")) == declared


def test_headers_on_413_for_every_route(probe: TestClient, routes: list[Endpoint]) -> None:
    oversized = b"x" * 1_048_577
    for endpoint in routes:
        response = probe.request(endpoint.method, endpoint.path(), content=oversized)
        assert_problem(response, 413)
        assert_security_headers(response)


def test_headers_on_422_for_every_route_with_input(
    probe: TestClient, routes: list[Endpoint]
) -> None:
    checked = []
    for endpoint in routes:
        request = invalid_request(endpoint)
        if request is None:
            continue
        response = probe.request(endpoint.method, **request)
        assert_problem(response, 422)
        assert_security_headers(response)
        checked.append(endpoint.template)

    assert f"{PROBE_PREFIX}/notes" in checked
    assert f"{PROBE_PREFIX}/notes/{{note_id}}" in checked


def test_headers_on_500_for_every_route_that_resolves_a_caller_or_session(
    probed_app: FastAPI, probe: TestClient, routes: list[Endpoint]
) -> None:
    def broken() -> None:
        raise RuntimeError("dependency exploded")

    probed_app.dependency_overrides[current_principal] = broken
    probed_app.dependency_overrides[get_session] = broken
    checked = []
    for endpoint in routes:
        if not endpoint.calls(current_principal, get_session):
            continue
        kwargs: dict[str, Any] = {}
        if endpoint.method in {"POST", "PUT", "PATCH"}:
            kwargs["json"] = {}
        response = probe.request(endpoint.method, endpoint.path(), **kwargs)
        assert_problem(response, 500)
        assert_security_headers(response)
        assert "exploded" not in response.text
        checked.append(endpoint.template)

    assert f"{PROBE_PREFIX}/notes" in checked


def test_headers_on_500_from_a_route_that_raises(probe: TestClient) -> None:
    response = probe.get(f"{PROBE_PREFIX}/crash")

    assert_problem(response, 500)
    assert_security_headers(response)


def test_headers_on_401_for_every_route_that_needs_a_caller(
    probed_app: FastAPI, probe: TestClient, routes: list[Endpoint]
) -> None:
    probed_app.dependency_overrides.pop(current_principal, None)
    checked = []
    for endpoint in routes:
        if not endpoint.calls(current_principal):
            continue
        response = probe.request(endpoint.method, endpoint.path(), json={})
        assert_problem(response, 401)
        assert_security_headers(response)
        checked.append(endpoint.template)

    assert checked
