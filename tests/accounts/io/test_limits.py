"""The import has its own body limit (``SECOPS_MAX_IMPORT_BYTES``); every other path keeps 1 MiB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from secops.app import create_app
from secops.auth.deps import current_principal
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.principal import EVERYWHERE, Role
from tests.accounts.io.conftest import IMPORT, csv_file
from tests.factories.missions import acting

GENERAL, IMPORTS = 1024, 8192
SIGNED_IN = {"Authorization": "Bearer secops_s_test", "Content-Type": "text/csv"}


@pytest.fixture
def small(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    """An app with a 1 KiB general limit and an 8 KiB import limit, run by an administrator."""
    limited = settings.model_copy(update={"max_body_bytes": GENERAL, "max_import_bytes": IMPORTS})
    app = create_app(limited, clock=clock, configure_logs=False)
    app.dependency_overrides[current_principal] = lambda: acting({Role.ADMIN: EVERYWHERE})
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.runtime.dispose()


def file_of(size: int) -> bytes:
    rows = [f"x,@acct{n:05d},HQ,mission,institutional" for n in range(size // 40)]
    return csv_file("platform,handle,mission,tier,kind", *rows).encode()[:size]


def test_an_import_may_exceed_the_general_limit_up_to_its_own(small: TestClient) -> None:
    body = file_of(4000)

    response = small.post(IMPORT, content=body, headers=SIGNED_IN, params={"dry_run": "true"})

    assert len(body) > GENERAL
    assert response.status_code == 422  # read and checked: the missions do not exist here
    assert "unknown mission 'HQ'" in response.text


def test_an_import_over_its_own_limit_is_refused_unread(small: TestClient) -> None:
    response = small.post(IMPORT, content=b"x" * (IMPORTS + 1), headers=SIGNED_IN)

    assert response.status_code == 413
    assert str(IMPORTS) in response.json()["detail"]


def test_a_chunked_import_over_its_limit_is_refused(small: TestClient) -> None:
    chunks = (b"y" * 1000 for _ in range(10))

    response = small.post(IMPORT, content=chunks, headers=SIGNED_IN)

    assert response.status_code == 413


def test_other_paths_and_anonymous_imports_keep_the_general_limit(small: TestClient) -> None:
    body = file_of(4000)

    elsewhere = small.post("/api/v1/missions", content=body, headers=SIGNED_IN)
    anonymous = small.post(IMPORT, content=body, headers={"Content-Type": "text/csv"})
    wrong_method = small.put(IMPORT, content=body, headers=SIGNED_IN)

    assert elsewhere.status_code == 413
    assert anonymous.status_code == 413
    assert wrong_method.status_code == 413
