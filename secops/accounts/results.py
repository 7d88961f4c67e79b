"""What an upsert did, for import summaries and dry runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class UpsertOutcome(StrEnum):
    """Whether an upsert added a row, changed one, or found it already as asked."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class UpsertResult:
    """One upserted row: its id, what happened, and which fields changed."""

    id: uuid.UUID
    outcome: UpsertOutcome
    changed: tuple[str, ...] = ()
