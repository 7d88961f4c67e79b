"""PostgreSQL sessions run in UTC, whatever the server's or the URL's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import make_url, text

from secops.core import db
from tests.conftest import PG_URL

postgres_only = pytest.mark.skipif(PG_URL is None, reason="PostgreSQL session settings")


def test_options_given_in_the_url_are_kept_and_the_zone_comes_last() -> None:
    url = "postgresql://u@h/d?options=-c%20statement_timeout%3D4321"

    assert db._pg_options(url) == "-c statement_timeout=4321 -c TimeZone=UTC"
    assert db._pg_options("postgresql://u@h/d") == "-c TimeZone=UTC"


@postgres_only
def test_a_session_runs_in_utc_even_when_the_url_asks_for_another_zone(
    database_url: str,
) -> None:
    options = "-c TimeZone=Asia/Tokyo -c statement_timeout=4321"
    url = make_url(database_url).update_query_dict({"options": options})
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
