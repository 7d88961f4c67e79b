"""``create_app(settings)``: middleware, routers and problem handlers; nothing built at import."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.middleware.cors import CORSMiddleware

from secops import __version__
from secops.accounts.connectors.routes import router as connectors_router
from secops.accounts.io_routes import IMPORT_PATH
from secops.accounts.io_routes import router as accounts_io_router
from secops.accounts.routes import routers as accounts_routers
from secops.audit.routes import router as audit_router
from secops.auth.access.routes import router as access_router
from secops.auth.routes import routers as auth_routers
from secops.core.clock import Clock, SystemClock
from secops.core.config import Settings, refuse_unsafe_production
from secops.core.health import router as health_router
from secops.core.logging import configure_logging
from secops.core.middleware import (
    BodySizeLimitMiddleware,
    LastResortMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from secops.core.problems import install_problem_handlers
from secops.core.routing import add_routes
from secops.core.runtime import Runtime
from secops.missions.routes import router as missions_router
from secops.policy.routes import routers as policy_routers
from secops.policy.waivers.routes import router as waivers_router

API_PREFIX = "/api/v1"
# Every domain's routes, in the order Starlette tries them.
API_ROUTERS: tuple[APIRouter, ...] = (
    *auth_routers,
    access_router,
    missions_router,
    audit_router,
    accounts_io_router,
    *accounts_routers,
    connectors_router,
    *policy_routers,
    waivers_router,
)
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
        "retry_after": {"type": "integer"},
    },
}


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    configure_logs: bool = True,
) -> FastAPI:
    """Build the secops API for ``settings``."""
    refuse_unsafe_production(settings)
    if configure_logs:
        configure_logging(fmt=settings.effective_log_format, level=settings.log_level)
    runtime = Runtime.build(settings, clock=clock or SystemClock())
    docs = not settings.is_production
    app = FastAPI(
        title="secops",
        version=__version__,
        summary="Account security for foreign ministries.",
        # Swagger UI loads scripts from a CDN: blocked by our CSP and absent on air-gapped hosts.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.sessions = runtime.sessions
    app.state.engine = runtime.engine
    install_problem_handlers(app)

    add_routes(app, [health_router])
    add_routes(app, API_ROUTERS, prefix=API_PREFIX)

    # Added innermost first: the last one added is the outermost.
    app.add_middleware(LastResortMiddleware)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allow_origins),
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Request-ID"],
            expose_headers=["ETag", "X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        overrides={("POST", IMPORT_PATH): settings.max_import_bytes},
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                PROBLEM_SCHEMA
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory: ``uvicorn --factory secops.app:app_from_env``."""
    return create_app(Settings())
