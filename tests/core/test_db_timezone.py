"""PostgreSQL sessions run in UTC, whatever the server's zone; other session options stay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import make_url, text

from secops.core import db
from tests.conftest import PG_URL

postgres_only = pytest.mark.skipif(PG_URL is None, reason="PostgreSQL session settings")
ZONE_AND_TIMEOUT = "-c TimeZone=Asia/Tokyo -c statement_timeout=4321"


@postgres_only
@pytest.mark.parametrize("given_in", ["url", "environment"])
def test_a_session_runs_in_utc_and_keeps_the_other_options_it_was_given(
    database_url: str, given_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_url(database_url)
    if given_in == "url":
        url = url.update_query_dict({"options": ZONE_AND_TIMEOUT})
    else:
        monkeypatch.setenv("PGOPTIONS", ZONE_AND_TIMEOUT)
    engine = db.create_db_engine(url.render_as_string(hide_password=False), pool_size=1)
    try:
        with engine.connect() as connection:
            zone = connection.execute(text("SHOW TimeZone")).scalar_one()
            timeout = connection.execute(text("SHOW statement_timeout")).scalar_one()
            stamp = connection.execute(
                text("SELECT CAST('2026-12-07 09:00:00+09' AS timestamptz)")
            ).scalar_one()
    finally:
        engine.dispose()

    assert zone == "UTC"
    assert timeout == "4321ms"
    assert stamp == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    assert stamp.tzinfo is UTC
