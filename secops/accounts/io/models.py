"""Tables of the inventory's import and export."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from secops.core.db import UTCDateTime


class ExportAllowance(SQLModel, table=True):
    """How far ahead a user's export allowance is spent: one row per user who has exported.

    Each export moves ``spent_until`` one export's share of the window (window / limit) past
    the later of itself and now; an export that would move it more than a whole window past
    now is refused. The row lives in the database so every API replica counts the same.
    """

    __tablename__ = "inventory_export_allowance"

    # The principal's id: a person, or the owner of the API key used.
    user_id: uuid.UUID = Field(primary_key=True)
    spent_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
