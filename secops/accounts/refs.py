"""How CLI commands turn an account named on the command line into its id, through the API."""

from __future__ import annotations

import uuid

from secops.accounts.models import Platform, normalise_handle
from secops.core.client import ApiClient
from secops.core.console import fail

ACCOUNTS = "/api/v1/accounts"


def account_id(client: ApiClient, ref: str) -> str:
    """The id of the account ``ref`` names: an id, or ``platform:handle`` on your missions."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    platform_name, sep, handle = ref.partition(":")
    if not sep or platform_name not in set(Platform):
        fail("name the account by its id or as platform:handle, e.g. x:@EmbParis")
    platform = Platform(platform_name)
    found = client.get(ACCOUNTS, platform=platform.value, handle=normalise_handle(platform, handle))
    if not found["items"]:
        fail(f"no account {ref} on your missions")
    return str(found["items"][0]["id"])
