"""The audit tables are append-only on PostgreSQL, for every role including the owner.

On SQLite nothing inside the database can stop a writer who has the file: there, the file's
permissions and the signed checkpoints exported outside the database are the defence (the
tamper suite shows that every change is then detected).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from secops.core.db import SessionFactory
from tests.audit.conftest import record_many

REFUSED = [
    "UPDATE audit_event SET actor = 'user:mallory' WHERE seq = 1",
    "DELETE FROM audit_event WHERE seq = 1",
    "TRUNCATE audit_event",
    "UPDATE audit_checkpoint SET tree_size = 99",
    "DELETE FROM audit_checkpoint",
    "TRUNCATE audit_checkpoint",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_postgresql_refuses_to_change_or_remove_audit_rows(
    sessions: SessionFactory, engine: Engine, statement: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the append-only triggers exist on PostgreSQL only")
    with sessions.begin() as s:
        record_many(s, 2, checkpoint_at=(2,))
    with pytest.raises(DBAPIError, match="is append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 2
        assert conn.execute(text("SELECT count(*) FROM audit_checkpoint")).scalar_one() == 1
