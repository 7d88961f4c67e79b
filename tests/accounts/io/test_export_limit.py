"""``GET /accounts/export`` is limited per user, in the database, so every replica counts it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from secops.accounts.io import exporter
from secops.accounts.io.allowance import EXPORT_WINDOW, Allowance
from secops.app import create_app
from secops.auth.deps import current_principal
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.principal import EVERYWHERE, Principal, Role
from tests.accounts.io.conftest import EXPORT
from tests.factories.missions import Ministry, acting

EXPORTS_PER_WINDOW = Settings.model_fields["export_per_hour"].default
SHARE = EXPORT_WINDOW / EXPORTS_PER_WINDOW


def export(client: TestClient) -> int:
    return client.get(EXPORT, params={"format": "csv"}).status_code


def spend_all(client: TestClient) -> None:
    assert [export(client) for _ in range(EXPORTS_PER_WINDOW)] == [200] * EXPORTS_PER_WINDOW


def test_past_the_limit_an_export_is_a_429_problem_with_retry_after(
    client: TestClient, ministry: Ministry, admin: Principal
) -> None:
    spend_all(client)

    refused = client.get(EXPORT)

    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["Retry-After"] == str(int(SHARE.total_seconds()))
    assert refused.json()["type"] == "urn:secops:problem:too-many-requests"
    assert refused.json()["status"] == 429


def test_spent_exports_come_back_one_share_of_the_window_at_a_time(
    client: TestClient, ministry: Ministry, admin: Principal, clock: FrozenClock
) -> None:
    spend_all(client)
    clock.advance(SHARE - timedelta(seconds=1))
    early = client.get(EXPORT)
    clock.advance(seconds=1)

    again = [export(client), export(client)]

    assert early.headers["Retry-After"] == "1"
    assert again == [200, 429]


def test_a_quiet_window_gives_the_whole_allowance_back(
    client: TestClient, ministry: Ministry, admin: Principal, clock: FrozenClock
) -> None:
    spend_all(client)
    clock.advance(EXPORT_WINDOW)

    spend_all(client)

    assert export(client) == 429


def test_each_user_has_an_allowance_of_their_own(
    app: FastAPI, client: TestClient, ministry: Ministry, admin: Principal
) -> None:
    spend_all(client)
    other = acting({Role.ADMIN: EVERYWHERE}, name="other")
    app.dependency_overrides[current_principal] = lambda: other

    assert export(client) == 200


def test_another_replica_sees_the_exports_this_one_counted(
    settings: Settings,
    clock: FrozenClock,
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
) -> None:
    spend_all(client)
    replica = create_app(settings, clock=clock, configure_logs=False)
    replica.dependency_overrides[current_principal] = lambda: admin
    try:
        with TestClient(replica, raise_server_exceptions=False) as second:
            assert export(second) == 429
    finally:
        replica.state.runtime.dispose()


def test_a_failed_export_does_not_use_the_allowance(
    client: TestClient, ministry: Ministry, admin: Principal
) -> None:
    missing = [
        client.get(EXPORT, params={"mission": "NOWHERE"}).status_code
        for _ in range(EXPORTS_PER_WINDOW + 1)
    ]

    assert set(missing) == {404}
    spend_all(client)


@pytest.mark.parametrize(("limit", "window"), [(0, timedelta(hours=1)), (3, timedelta(0))])
def test_an_allowance_needs_a_limit_and_a_window(limit: int, window: timedelta) -> None:
    with pytest.raises(ValueError, match="limit"):
        Allowance(limit, window)


def test_a_refused_export_builds_no_file(
    client: TestClient, ministry: Ministry, admin: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    spend_all(client)
    built: list[object] = []
    real = exporter.export
    monkeypatch.setattr(exporter, "export", lambda *a, **k: built.append(1) or real(*a, **k))

    assert export(client) == 429
    assert built == []  # the allowance is checked before the inventory is read


def test_an_export_reads_the_inventory_outside_any_transaction(
    client: TestClient, ministry: Ministry, admin: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = exporter.account_records

    def watching(session: Session, *args: Any, **kwargs: Any) -> Any:
        driver: Any = session.connection().connection.driver_connection
        if session.get_bind().dialect.name == "sqlite":
            seen.append(bool(driver.in_transaction))
        else:
            seen.append(driver.info.transaction_status.name != "IDLE")
        return real(session, *args, **kwargs)

    monkeypatch.setattr(exporter, "account_records", watching)

    assert export(client) == 200
    # No lock held while the file is built: on SQLite, writers are not kept waiting.
    assert seen == [False]
    spend_all_but_one = [export(client) for _ in range(EXPORTS_PER_WINDOW - 1)]
    assert spend_all_but_one == [200] * (EXPORTS_PER_WINDOW - 1)
    assert export(client) == 429  # and the allowance was still spent, once per export
