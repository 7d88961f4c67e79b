"""Fixtures for import and export tests: posting files, reading exports, example files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

IMPORT = "/api/v1/accounts/import"
EXPORT = "/api/v1/accounts/export"
DATA = Path(__file__).resolve().parents[2] / "data"
EXAMPLE_CSV = DATA / "accounts-example.csv"
EXAMPLE_JSON = DATA / "accounts-example.json"
MEDIA = {"csv": "text/csv", "json": "application/json"}


def post_file(
    client: TestClient, body: str | bytes, file_format: str = "csv", **params: Any
) -> httpx.Response:
    """POST a file to the import route as its raw body."""
    content = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": MEDIA[file_format], "Authorization": "Bearer secops_s_test"}
    query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
    return client.post(IMPORT, content=content, headers=headers, params=query)


def imported(
    client: TestClient, body: str | bytes, file_format: str = "csv", **params: Any
) -> dict[str, Any]:
    """Import and expect success; the report."""
    response = post_file(client, body, file_format, **params)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def exported(client: TestClient, file_format: str = "csv", **params: Any) -> str:
    """The export's body as text."""
    response = client.get(EXPORT, params={"format": file_format, **params})
    assert response.status_code == 200, response.text
    return response.text


def csv_file(header: str, *rows: str) -> str:
    """A CSV file from a header line and row lines."""
    return "\n".join([header, *rows]) + "\n"


@pytest.fixture
def example_csv() -> str:
    """The documented example file."""
    return EXAMPLE_CSV.read_text()
