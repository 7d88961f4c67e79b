"""How CLI commands turn a mission named on the command line into its id, through the API."""

from __future__ import annotations

import uuid

from secops.core.client import ApiClient
from secops.core.console import fail

MISSIONS = "/api/v1/missions"


def mission_id(client: ApiClient, ref: str) -> str:
    """The id of the mission ``ref`` names (an id, or a code the caller can see)."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        found = client.get(MISSIONS, code=ref.strip().upper())
    if not found["items"]:
        fail(f"mission not found: no mission with code {ref.strip().upper()} that you can see")
    return str(found["items"][0]["id"])
