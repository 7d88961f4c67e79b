"""ETag / If-Match for optimistic concurrency: 428 when missing, 412 when stale."""

from __future__ import annotations

from secops.core.errors import PreconditionFailed, PreconditionRequired


def etag_for(version: int) -> str:
    """The strong entity tag of a row version."""
    return f'"v{version}"'


def require_if_match(if_match: str | None, current_version: int) -> None:
    """Refuse a change unless ``If-Match`` names the current version."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("Send If-Match with the ETag you last read.")
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in tags:
        return
    if etag_for(current_version) not in tags:
        raise PreconditionFailed("The object changed since you read it; fetch it again and retry.")
