"""The API's routes, added to the application one by one instead of as included routers.

FastAPI keeps an included router as a single entry of ``app.routes`` and matches a request by
walking every inclusion level in turn, re-reading each level's route list as it goes. With the
domain routers nested under ``/api/v1`` that cost 0.3 ms for a route in the middle of the list
and 0.9 ms for the last one on the reference machine, on every request, before any of secops's
own work; it grows with every route a domain adds. A route added to the application itself
costs one regular-expression match.

Each route is rebuilt from its domain router's declaration with everything that declares it
(path, methods, dependencies, responses, tags, names), so the OpenAPI document is the one
inclusion would give; a test compares the two. Routes stay in declaration order, which is the
order in which Starlette tries them.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute


def add_routes(app: FastAPI, routers: Iterable[APIRouter], *, prefix: str = "") -> None:
    """Add every route of ``routers`` to ``app`` under ``prefix``, each as a route of its own.

    The routers must be leaves: a router that includes another is refused, so no route can be
    left out silently.
    """
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                raise TypeError(
                    f"{router.prefix or '/'}: only plain API routes can be added one by one, "
                    f"not {type(route).__name__}; list the included router instead"
                )
            app.router.add_api_route(
                prefix + route.path,
                route.endpoint,
                response_model=route.response_model,
                status_code=route.status_code,
                tags=list(route.tags),
                dependencies=list(route.dependencies),
                summary=route.summary,
                description=route.description,
                response_description=route.response_description,
                responses=dict(route.responses),
                deprecated=route.deprecated,
                methods=sorted(route.methods or ()),
                operation_id=route.operation_id,
                response_model_include=route.response_model_include,
                response_model_exclude=route.response_model_exclude,
                response_model_by_alias=route.response_model_by_alias,
                response_model_exclude_unset=route.response_model_exclude_unset,
                response_model_exclude_defaults=route.response_model_exclude_defaults,
                response_model_exclude_none=route.response_model_exclude_none,
                include_in_schema=route.include_in_schema,
                response_class=route.response_class,
                name=route.name,
                route_class_override=type(route),
                callbacks=route.callbacks,
                openapi_extra=route.openapi_extra,
                generate_unique_id_function=route.generate_unique_id_function,
                strict_content_type=route.strict_content_type,
                max_body_size=route.max_body_size,
                form_limits=route.form_limits,
            )
