"""The demo ministry's inventory: people and accounts for the 18 demo missions.

The dataset (``data/demo-inventory.json``, the import's JSON format, invented names only) is
loaded through the real importer, so the demo exercises the same rules as a ministry's file.
Dates in it are written relative to the seeding time (``now-400d``), so the evidence ages and
the gaps it shows stay the same whenever the demo is seeded: an ambassador's X account on SMS
only, a recovery address on public webmail, an administrator who has left, a scheduling app
unreviewed for 400 days, a dormant account, a shared password kept in a document, and a
minister's account on FIDO2 keys among mostly well-kept accounts.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, Final

from sqlmodel import Session

from secops.accounts.io import cells, importer
from secops.accounts.io.formats import FileFormat
from secops.core.db import clock_of
from secops.core.principal import Principal

DATASET: Final = "demo-inventory.json"
_RELATIVE: Final = re.compile(r"^now-(\d{1,5})d$")


def _dated(value: Any, now: datetime) -> Any:
    """``value`` with every ``now-Nd`` string replaced by the ISO time N days before ``now``."""
    if isinstance(value, dict):
        return {k: _dated(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_dated(v, now) for v in value]
    if isinstance(value, str) and (match := _RELATIVE.match(value)):
        return cells.format_datetime(now - timedelta(days=int(match.group(1))))
    return value


def dataset(now: datetime) -> dict[str, Any]:
    """The demo inventory as an import document, dated relative to ``now``."""
    raw = resources.files("secops.accounts.io.data").joinpath(DATASET).read_text("utf-8")
    document: dict[str, Any] = _dated(json.loads(raw), now)
    return document


def seed_demo_inventory(
    session: Session, *, principal: Principal, missions: dict[str, uuid.UUID]
) -> int:
    """Import the demo people and accounts; returns how many accounts were created.

    ``missions`` maps the demo mission codes to their ids (as ``secops.cli.seed`` creates
    them); every mission the dataset names must be there.
    """
    document = dataset(clock_of(session).now())
    named = {a["mission"] for a in document["accounts"]} | {
        p["mission"] for p in document["people"]
    }
    missing = sorted(named - set(missions))
    if missing:
        raise ValueError(f"the demo inventory needs missions that were not seeded: {missing}")
    report = importer.import_file(
        session,
        principal=principal,
        data=json.dumps(document).encode(),
        file_format=FileFormat.JSON,
    )
    return report.accounts.created
