"""Read each route's declared policy from its dependency tree, and build requests for it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from secops.auth.deps import PUBLIC_ROUTES, AccessPolicy, KeyExchange, PermissionRequirement
from secops.core.principal import Permission

PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class RouteCase:
    """One method of one route, with the policy its dependencies declare."""

    method: str
    path: str
    route: APIRoute
    policies: tuple[AccessPolicy, ...]

    @property
    def permissions(self) -> tuple[Permission, ...]:
        """Every permission the route requires."""
        return tuple(p.permission for p in self.policies if isinstance(p, PermissionRequirement))

    @property
    def people_only(self) -> bool:
        """True if API keys are refused whatever their scope."""
        return any(
            not isinstance(p, PermissionRequirement) or p.people_only
            for p in self.policies
            if not isinstance(p, KeyExchange)
        )

    @property
    def keys_only(self) -> bool:
        """True if only an API key itself may call it (people and sessions are refused)."""
        return any(isinstance(p, KeyExchange) for p in self.policies)

    @property
    def key(self) -> tuple[str, str]:
        """(method, path) as PUBLIC_ROUTES spells it."""
        return (self.method, self.path)

    @property
    def public(self) -> bool:
        """True if the route is on the public allow-list."""
        return self.key in PUBLIC_ROUTES

    @property
    def declared(self) -> bool:
        """True if the route states who may call it."""
        return bool(self.policies) or self.public

    @property
    def params(self) -> list[str]:
        """The path parameters, in order."""
        return PARAM.findall(self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def dependency_calls(dependant: Dependant) -> Iterator[Any]:
    """Every callable in the dependency tree, depth first."""
    for sub in dependant.dependencies:
        yield sub.call
        yield from dependency_calls(sub)


def route_cases(app: FastAPI) -> list[RouteCase]:
    """Every (method, route) the app serves, HEAD and OPTIONS aside."""
    cases = []
    # FastAPI includes routers lazily; iter_route_contexts yields each route with its full path
    # and the dependencies its routers add.
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        dependant = getattr(context, "dependant", None) or route.dependant
        calls = list(dependency_calls(dependant))
        policies = tuple(c for c in calls if isinstance(c, AccessPolicy))
        path = context.path or route.path
        for method in sorted((context.methods or route.methods) - {"HEAD", "OPTIONS"}):
            cases.append(RouteCase(method, path, route, policies))
    return cases


def placeholder(case: RouteCase, name: str) -> str:
    """A value of the right type for a path parameter that names nothing."""
    for param in case.route.dependant.path_params:
        if param.name == name and param.field_info.annotation is int:
            return str(2**31 - 1)
    return str(uuid.uuid4())


def fill(case: RouteCase, values: Mapping[str, str] | None = None) -> str:
    """The route's path with each ``{param}`` from ``values``, else a value naming nothing."""
    given = values or {}
    return PARAM.sub(lambda m: given.get(m.group(1)) or placeholder(case, m.group(1)), case.path)


def comparable(body: Any) -> Any:
    """A problem body without the parts that differ per request."""
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in {"request_id", "instance"}}
    return body
