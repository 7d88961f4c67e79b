"""structlog set-up: JSON lines in production, readable lines in development, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[redacted]"

# Keys whose values are secrets whatever they hold; matched as substrings of the lower-cased key.
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "totp",
    "otp",
    "recovery_code",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "credential",
    "private",
    "kek",
    "dek",
)
# Keys that contain one of the parts above but hold no secret.
NON_SECRET_KEYS = frozenset({"token_type", "otp_enrolled", "totp_enrolled"})
SECRET_VALUE_PATTERNS = (
    re.compile(r"secops_[sk]_[A-Za-z0-9_\-]+"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/\-]+=*"),
    re.compile(r"\b[A-Z2-7]{24,}\b"),  # long base32 runs: TOTP secrets
)
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    if lowered in NON_SECRET_KEYS:
        return False
    return any(part in lowered for part in SECRET_KEY_PARTS)


def _escape_control(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def scrub_value(value: Any) -> Any:
    """Redact token-shaped substrings and escape control characters, recursively."""
    if isinstance(value, str):
        for pattern in SECRET_VALUE_PATTERNS:
            value = pattern.sub(REDACTED, value)
        return CONTROL_CHARS.sub(_escape_control, value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and _is_secret_key(k) else scrub_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(v) for v in value]
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Mask secret-looking keys (nested too) and token-shaped values; neutralise line breaks."""
    for key in list(event_dict):
        if key in ("exception", "timestamp", "level"):
            continue
        if _is_secret_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = scrub_value(event_dict[key])
    return event_dict


def shared_processors() -> list[Processor]:
    """The processors every log line goes through, before rendering."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]


def configure_logging(
    *, fmt: str = "json", level: str = "info", stream: TextIO | None = None
) -> None:
    """Route structlog and the standard library (uvicorn included) through one redacting chain."""
    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        final: list[Processor] = [structlog.processors.dict_tracebacks, renderer]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        final = [renderer]
    structlog.configure(
        processors=[
            *shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log is replaced by our http.request line.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    for noisy in ("httpx", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; events are dotted names with keyword fields."""
    return structlog.get_logger(name)


def bind_request_context(**values: Any) -> None:
    """Bind values (request id, user id) to every log line of the current request."""
    structlog.contextvars.bind_contextvars(**values)


def clear_request_context() -> None:
    """Forget the previous request's bindings."""
    structlog.contextvars.clear_contextvars()


def redact_mapping(values: MutableMapping[str, Any]) -> dict[str, Any]:
    """Redact a mapping for storage in an audit detail (same rules as logs)."""
    scrubbed = scrub_value(dict(values))
    assert isinstance(scrubbed, dict)  # noqa: S101 - scrub_value keeps mappings as dicts
    return scrubbed
