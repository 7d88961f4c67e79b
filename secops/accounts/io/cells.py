"""Cell-level parsing shared by the CSV and JSON formats, and spreadsheet formula neutralisation.

Every parser takes the text of one cell (already stripped) and returns a Python value, or raises
``CellError`` with a message that names the problem. Messages may quote short values from
enumerations (``unknown tier 'ambasador'``) but never a recovery address or phone number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any, Final, TypeVar

E = TypeVar("E", bound=StrEnum)

# A cell that starts with one of these is a formula to Excel, LibreOffice or Google Sheets.
FORMULA_TRIGGERS: Final = frozenset("=+-@\t\r")
QUOTE: Final = "'"
MAX_TEXT: Final = 2048
QUOTED_LIMIT: Final = 40

_EMAIL: Final = re.compile(
    r"^(?!\.)(?!.*\.\.)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)@"
    r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
# The core's rules for recovery numbers: separators dropped, 00 read as +, then E.164.
_PHONE_SEPARATORS: Final = re.compile(r"[\s.\-()]")
_E164: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")
MASK_DOT: Final = "\u2022"
# Refused by the e-mail validator the API uses (RFC 6761 special-use names).
_SPECIAL_USE: Final = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_TRUE: Final = frozenset({"true", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "no", "n", "0"})


class CellError(ValueError):
    """A cell's value is not acceptable; the message says why (never echoing secrets)."""


class Masked(str):
    """A recovery address or number as exported to a reader without the secret (``a•••@…``).

    Imported again it means "keep what is stored", provided it matches the stored mask.
    """

    __slots__ = ()


def quoted(value: str) -> str:
    """A short, printable quotation of a user's value for an error message."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in value[:QUOTED_LIMIT])
    return f"'{shown}…'" if len(value) > QUOTED_LIMIT else f"'{shown}'"


# -- formula neutralisation --------------------------------------------------------------------


def _needs_quote(value: str) -> bool:
    # A value made of leading quotes then a trigger gets one more quote, so the importer can
    # always remove exactly one: neutralise and restore are inverses for every string.
    body = value.lstrip(QUOTE)
    return bool(body) and body[0] in FORMULA_TRIGGERS


def neutralise(value: str) -> str:
    """Prefix a single quote to a cell a spreadsheet would run as a formula."""
    return QUOTE + value if _needs_quote(value) else value


def restore(value: str) -> str:
    """Undo ``neutralise``: drop the quote it added, leave every other value alone."""
    if value.startswith(QUOTE) and _needs_quote(value[1:]):
        return value[1:]
    return value


# -- scalar parsers ----------------------------------------------------------------------------


def parse_text(value: str, *, limit: int = 200) -> str:
    """Printable text up to ``limit`` characters."""
    if len(value) > limit:
        raise CellError(f"longer than {limit} characters")
    if _CONTROL.search(value):
        raise CellError("contains control characters")
    return value


def parse_email(value: str) -> str:
    """An e-mail address, lower-cased (special-use domains such as ``.test`` refused)."""
    if len(value) > 320 or not _EMAIL.match(value):
        raise CellError("not a valid e-mail address")
    if value.rpartition(".")[2].lower() in _SPECIAL_USE:
        raise CellError("not a deliverable e-mail domain")
    return value.lower()


def parse_secret_email(value: str) -> str:
    """A recovery address, or the mask an export wrote in its place."""
    return Masked(value) if MASK_DOT in value else parse_email(value)


def parse_phone(value: str) -> str:
    """An international number, stored compact (``+33612345678``); ``00`` reads as ``+``."""
    compact = _PHONE_SEPARATORS.sub("", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if len(value) > 40 or not _E164.match(compact):
        raise CellError("not an international phone number (e.g. +33 6 12 34 56 78)")
    return compact


def parse_secret_phone(value: str) -> str:
    """A recovery number, or the mask an export wrote in its place."""
    return Masked(value) if MASK_DOT in value else parse_phone(value)


def parse_url(value: str) -> str:
    """An http(s) URL with a host, no credentials and no spaces (the core's rule)."""
    lowered = value.lower()
    if len(value) > MAX_TEXT or not lowered.startswith(("https://", "http://")):
        raise CellError("not an http(s) URL")
    host = value.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if not host or "@" in host or any(ch.isspace() for ch in value):
        raise CellError("not an http(s) URL with a host and no credentials or spaces")
    return value


def parse_bool(value: str) -> bool:
    """``true``/``false`` (also yes/no, y/n, 1/0), any case."""
    folded = value.lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise CellError(f"expected true or false, not {quoted(value)}")


def parse_int(value: str, *, low: int = 0, high: int = 1024) -> int:
    """A whole number between ``low`` and ``high``."""
    try:
        number = int(value)
    except ValueError:
        raise CellError(f"expected a whole number, not {quoted(value)}") from None
    if not low <= number <= high:
        raise CellError(f"must be between {low} and {high}")
    return number


def parse_datetime(value: str) -> datetime:
    """ISO 8601: a date (midnight UTC) or a date and time; without an offset it is UTC."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CellError(f"expected an ISO 8601 date or time, not {quoted(value)}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """The exported form of a timestamp: ISO 8601 in UTC with a ``Z``."""
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def enum_parser(enum: type[E], noun: str) -> Callable[[str], E]:
    """A parser for one of ``enum``'s values, any case, dashes or spaces read as underscores."""
    by_value = {member.value: member for member in enum}

    def parse(value: str) -> E:
        """The member named by ``value``."""
        member = by_value.get(value.lower().replace("-", "_").replace(" ", "_"))
        if member is None:
            raise CellError(f"unknown {noun} {quoted(value)}")
        return member

    return parse


# -- lists and structured entries --------------------------------------------------------------

_SPECIALS: Final = frozenset("\\;,()=")


def escape(value: str) -> str:
    """Backslash-escape the characters the list grammar uses."""
    return "".join("\\" + ch if ch in _SPECIALS else ch for ch in value)


_TOKENS: Final = re.compile(r"\\.|\\$|[();,]", re.DOTALL)


def _split(text: str, separator: str) -> list[str]:
    # Only the special characters are visited: escapes are kept for _unescape, brackets nest.
    if "\\" not in text and "(" not in text and ")" not in text:
        return text.split(separator)
    parts, start, depth = [], 0, 0
    for token in _TOKENS.finditer(text):
        mark = token.group()
        if mark == "\\":
            raise CellError("ends with a lone backslash")
        if mark == "(":
            depth += 1
        elif mark == ")":
            depth -= 1
            if depth < 0:
                raise CellError("unbalanced brackets")
        elif mark == separator and depth == 0:
            parts.append(text[start : token.start()])
            start = token.end()
    if depth != 0:
        raise CellError("unbalanced brackets")
    parts.append(text[start:])
    return parts


_ESCAPED: Final = re.compile(r"\\(.)", re.DOTALL)


def _unescape(text: str) -> str:
    if "\\" in text:
        text = _ESCAPED.sub(r"\1", text)
    return text.strip()


def parse_list(value: str) -> list[str]:
    """A ``;``-separated list; ``\\;`` is a literal semicolon. Empty items are dropped."""
    return [item for item in (_unescape(part) for part in _split(value, ";")) if item]


def format_list(items: list[str]) -> str:
    """The exported form of a list."""
    return "; ".join(escape(item) for item in items)


def parse_entries(value: str) -> list[tuple[str, dict[str, str]]]:
    """``name (key=value, key=value); name2`` → ``[(name, {key: value}), (name2, {})]``."""
    entries = []
    for part in _split(value, ";"):
        if not part.strip():
            continue
        name, attributes = _entry(part.strip())
        entries.append((name, attributes))
    return entries


def _entry(text: str) -> tuple[str, dict[str, str]]:
    head, bracket, tail = _partition_unescaped(text, "(")
    name = _unescape(head)
    if not name:
        raise CellError("an entry has no name")
    if not bracket:
        return name, {}
    inner = _before_closing(tail.rstrip())
    if inner is None:
        raise CellError(f"the entry for {quoted(name)} does not end with ')'")
    attributes: dict[str, str] = {}
    for pair in _split(inner, ","):
        if not pair.strip():
            continue
        key, equals, raw = _partition_unescaped(pair, "=")
        key = _unescape(key).lower()
        if not equals or not key:
            raise CellError(f"expected key=value in the entry for {quoted(name)}")
        if key in attributes:
            raise CellError(f"{quoted(key)} given twice in the entry for {quoted(name)}")
        attributes[key] = _unescape(raw)
    return name, attributes


def _before_closing(text: str) -> str | None:
    # The text up to a final, unescaped ")"; None when the text does not end with one.
    escaped = False
    for index, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ")" and index == len(text) - 1:
            return text[:index]
    return None


def _partition_unescaped(text: str, separator: str) -> tuple[str, str, str]:
    escaped = False
    for index, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == separator:
            return text[:index], separator, text[index + 1 :]
    return text, "", ""


def format_entry(name: str, attributes: dict[str, str]) -> str:
    """The exported form of one structured entry (empty attributes left out)."""
    pairs = [f"{key}={escape(value)}" for key, value in attributes.items() if value != ""]
    return escape(name) + (f" ({', '.join(pairs)})" if pairs else "")


def describe(value: Any) -> str:
    """How a JSON value's type is named in an error."""
    return {bool: "true/false", int: "a number", float: "a number", list: "a list"}.get(
        type(value), "an object" if isinstance(value, dict) else "text"
    )
