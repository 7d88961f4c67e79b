"""A policy file's YAML, parsed safely, and problems placed on the line where they are.

PyYAML's safe loader composes a node tree that remembers where each node starts; the tree is
checked for what YAML lets pass silently and a policy must not hold (anchors and aliases, merge
keys, duplicate keys, nesting without bound, numbers too long to convert), then constructed into
plain data. A location such as ``("rules", 3, "condition", "all", 0, "op")`` — from pydantic or
from :mod:`secops.policy.validation` — is followed down the tree to its line, and pydantic's
errors are worded for a policy author.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml
from pydantic import BaseModel
from pydantic_core import ErrorDetails
from yaml.composer import ComposerError
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from secops.policy.spec import (
    NAME,
    POLICY_ID,
    RULE_ID,
    AllOf,
    AnyOf,
    AppliesTo,
    Count,
    Leaf,
    Not,
    PolicyFile,
    PolicyHeader,
    Quantifier,
    Rule,
    Threshold,
)
from secops.policy.validation import Loc, suggest

# The baseline nests about 12 levels deep; the bound keeps the composer's recursion short.
MAX_DEPTH: Final = 64
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_INT_TAG: Final = "tag:yaml.org,2002:int"
_MAX_INT_DIGITS: Final = 30


@dataclass(frozen=True)
class Located:
    """A problem with its line (1-based) and the id of the rule it is in, when known."""

    line: int | None
    rule_id: str | None
    message: str


class YamlRefused(Exception):
    """The text is not YAML a policy may be written in; ``found`` says where and why."""

    def __init__(self, found: list[Located]) -> None:
        self.found = found
        super().__init__("; ".join(f.message for f in found))


class _SafeComposer(yaml.SafeLoader):
    """The safe loader, refusing anchors and aliases and bounding how deep nodes nest."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        start: Any = event.start_mark  # a pure-Python Mark here; the stubs also allow libyaml's
        if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor):
            message = "anchors and aliases (&name, *name) are not allowed; write each value out"
            raise ComposerError(None, None, message, start)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", start)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _child(node: Node, segment: str | int) -> tuple[Node, Node] | None:
    """The node under ``segment`` and the node that names it (a key, or the item itself)."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == str(segment):
                return key, value
        return None
    if isinstance(node, SequenceNode) and isinstance(segment, int) and segment >= 0:
        items: list[Node] = node.value
        return (items[segment], items[segment]) if segment < len(items) else None
    return None


@dataclass(frozen=True)
class ParsedYaml:
    """A policy file's node tree (for lines) and the plain data constructed from it."""

    root: Node
    data: Any

    def locate(self, loc: Loc) -> tuple[int, Loc]:
        """The line of ``loc`` and the part of it that exists in the file.

        pydantic puts union members and condition tags (``leaf``, ``allof``) in its locations;
        they are not keys of the file, so steps that lead nowhere are skipped.
        """
        node, marker, found = self.root, self.root, []
        for segment in loc:
            step = _child(node, segment)
            if step is not None:
                marker, node = step
                found.append(segment)
        return _line(marker), tuple(found)

    def rule_id(self, loc: Loc) -> str | None:
        """The ``id`` of the rule ``loc`` points into, when it is a string."""
        if len(loc) < 2 or loc[0] != "rules" or not isinstance(loc[1], int):
            return None
        rules = self.data.get("rules") if isinstance(self.data, dict) else None
        if not isinstance(rules, list) or not 0 <= loc[1] < len(rules):
            return None
        rule = rules[loc[1]]
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        return rule_id if isinstance(rule_id, str) else None

    def place(self, loc: Loc, message: str) -> Located:
        """``message`` at ``loc``, prefixed by the path inside the rule (``condition.all[0]``)."""
        line, found = self.locate(loc)
        rule_id = self.rule_id(loc)
        if rule_id is not None:
            found = found[2:]
        path = ""
        for segment in found:
            path += (
                f"[{segment}]" if isinstance(segment, int) else f".{segment}" if path else segment
            )
        return Located(line, rule_id, f"{path}: {message}" if path else message)

    def place_errors(self, errors: Iterable[ErrorDetails]) -> list[Located]:
        """pydantic's errors, placed and worded; a union's attempts at one place are one."""
        groups: dict[tuple[int, Loc], list[ErrorDetails]] = {}
        for error in errors:
            groups.setdefault(self.locate(error["loc"]), []).append(error)
        placed: list[Located] = []
        for group in groups.values():
            merged = expected_message([e["type"] for e in group]) if len(group) > 1 else None
            messages = [merged] if merged else [shape_message(e) for e in group]
            placed.extend(self.place(group[0]["loc"], m) for m in dict.fromkeys(messages))
        return placed


def parse_yaml(data: bytes) -> ParsedYaml:
    """Parse one YAML document safely; raises :class:`YamlRefused` saying where and why not."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlRefused([Located(None, None, f"not UTF-8 text (byte {exc.start})")]) from None
    loader = _SafeComposer(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise YamlRefused([Located(None, None, "the file is empty")])
        refused = _structure_problems(root)
        if refused:
            raise YamlRefused(refused)
        return ParsedYaml(root, loader.construct_document(root))
    except yaml.YAMLError as exc:
        raise YamlRefused([_yaml_problem(exc)]) from None
    finally:
        loader.dispose()


def _rule_at(root: Node, line: int) -> str | None:
    """The id of the rule written around ``line`` (for problems found before validation)."""
    rules = _child(root, "rules")
    if rules is None or not isinstance(rules[1], SequenceNode) or line < _line(rules[0]):
        return None
    around = [item for item in rules[1].value if _line(item) <= line]
    rule_id = _child(around[-1], "id") if around else None
    if rule_id is None or not isinstance(rule_id[1], ScalarNode):
        return None
    return str(rule_id[1].value)


def _structure_problems(root: Node) -> list[Located]:
    """What YAML lets pass and a policy must not hold: duplicate and merge keys, huge numbers."""
    found: list[tuple[int, str]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                if key.tag == _MERGE_TAG:
                    found.append((_line(key), "merge keys (<<) are not allowed"))
                elif isinstance(key, ScalarNode) and key.value in seen:
                    first = seen[key.value]
                    found.append(
                        (_line(key), f"duplicate key {key.value!r} (first at line {first})")
                    )
                elif isinstance(key, ScalarNode):
                    seen[key.value] = _line(key)
                stack.extend((key, value))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif node.tag == _INT_TAG and len(str(node.value)) > _MAX_INT_DIGITS:
            found.append((_line(node), f"a number longer than {_MAX_INT_DIGITS} digits"))
    return [Located(line, _rule_at(root, line), message) for line, message in sorted(found)]


def _yaml_problem(exc: yaml.YAMLError) -> Located:
    if not isinstance(exc, yaml.MarkedYAMLError):
        return Located(None, None, f"YAML: {exc}")
    mark = exc.problem_mark or exc.context_mark
    problem = str(exc.problem or "")
    if "'\\t'" in problem:
        message = "a tab character where YAML needs spaces (indent with spaces)"
    elif exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        message = f"{exc.context} (from line {int(exc.context_mark.line) + 1}): {problem}"
    else:
        message = f"{exc.context}: {problem}" if exc.context else problem
    return Located(None if mark is None else int(mark.line) + 1, None, f"YAML: {message}")


# What pydantic's type errors expect, in words; several at one place are a union's attempts.
_EXPECTED: Final[Mapping[str, str]] = {
    "bool_type": "true or false", "bool_parsing": "true or false",
    "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "string_type": "a string", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping",
    "date_type": "a date (YYYY-MM-DD)", "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "a date without a time of day",
}  # fmt: skip
_PATTERNS: Final[Mapping[str, str]] = {
    RULE_ID.pattern: "must look like MFA.ENABLED.1v1: upper-case dotted words, then a version",
    POLICY_ID.pattern: "must be 2 to 63 lower-case letters, digits and dashes",
    NAME.pattern: "must be lower_snake_case (a letter first)",
}
_ENUM_MEMBER: Final = re.compile(r"<\w+\.\w+: ('[^']*')>")
_SPEC_MODELS: Final[tuple[type[BaseModel], ...]] = (
    PolicyFile, PolicyHeader, Rule, AppliesTo, Threshold, Leaf, AllOf, AnyOf, Not, Quantifier,
    Count,
)  # fmt: skip
KNOWN_KEYS: Final = frozenset(
    info.alias or name for model in _SPEC_MODELS for name, info in model.model_fields.items()
)


def expected_message(types: Iterable[str]) -> str | None:
    """``must be a string or a list`` for a set of type errors; None if one is another kind."""
    words: list[str] = []
    for error_type in types:
        if error_type not in _EXPECTED:
            return None
        words.append(_EXPECTED[error_type])
    unique = list(dict.fromkeys(words))
    if "a number" in unique and "a whole number" in unique:
        unique.remove("a whole number")
    if not unique:
        return None
    *head, last = unique
    return f"must be {', '.join(head)} or {last}" if head else f"must be {last}"


def shape_message(error: ErrorDetails) -> str:
    """One pydantic error as a sentence for a policy author (never echoing the whole input)."""
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx") or {}
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    if kind == "extra_forbidden":
        return f"unknown key{suggest(str(loc[-1]), KNOWN_KEYS)}"
    if kind in {"enum", "literal_error"}:
        return "must be one of " + _ENUM_MEMBER.sub(r"\1", str(ctx.get("expected", "")))
    if kind == "string_pattern_mismatch" and str(ctx.get("pattern")) in _PATTERNS:
        return _PATTERNS[str(ctx["pattern"])]
    if kind == "model_type" and not loc:
        return "the file must be a mapping with the keys 'policy' and 'rules'"
    expected = expected_message([kind])
    if expected is not None:
        return expected
    message = error["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:]
