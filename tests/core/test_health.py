"""Liveness and readiness."""

from fastapi.testclient import TestClient


def test_healthz_answers_ok_without_details(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
