"""Routes added one by one: the same API as nested inclusion, and nothing left out."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from secops import app as app_module
from secops.core.routing import add_routes


def _nested_twin(app: FastAPI) -> FastAPI:
    """The same routers included the usual way, nested under the API prefix."""
    twin = FastAPI()
    twin.include_router(app_module.health_router)
    api = APIRouter(prefix=app_module.API_PREFIX)
    for router in app_module.API_ROUTERS:
        api.include_router(router)
    twin.include_router(api)
    return twin


def _document(app: FastAPI) -> dict[str, Any]:
    return get_openapi(title="secops", version="test", routes=app.routes)


def test_the_api_document_is_the_one_nested_inclusion_gives(app: FastAPI) -> None:
    flat, nested = _document(app), _document(_nested_twin(app))

    assert list(flat["paths"]) == list(nested["paths"])
    assert flat == nested


def test_every_route_sits_on_the_application_itself(app: FastAPI) -> None:
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    others = [route.path for route in app.routes if not isinstance(route, APIRoute)]

    assert len(routes) > 60
    assert others == ["/openapi.json"]  # FastAPI's own, outside production
    assert all(route.dependency_overrides_provider is app for route in routes)


def test_routes_keep_their_declaration_order(app: FastAPI) -> None:
    paths = [route.path for route in app.routes if isinstance(route, APIRoute)]

    # The import's fixed path is declared before the account id it would otherwise match.
    assert paths.index("/api/v1/accounts/import") < paths.index(
        "/api/v1/accounts/{account_id:uuid}"
    )


def test_a_router_that_includes_another_is_refused() -> None:
    inner = APIRouter(prefix="/inner")

    @inner.get("/thing")
    def thing() -> dict[str, str]:
        return {}

    outer = APIRouter(prefix="/outer")
    outer.include_router(inner)

    with pytest.raises(TypeError, match="list the included router instead"):
        add_routes(FastAPI(), [outer])


def test_an_added_route_answers_under_its_prefix_with_its_declared_status() -> None:
    router = APIRouter(prefix="/things", tags=["things"])

    @router.post("", status_code=201)
    def make() -> dict[str, str]:
        return {"made": "yes"}

    app = FastAPI()
    add_routes(app, [router], prefix="/api/v2")

    with TestClient(app) as client:
        made = client.post("/api/v2/things")
        missing = client.post("/things")

    assert (made.status_code, made.json()) == (201, {"made": "yes"})
    assert missing.status_code == 404
