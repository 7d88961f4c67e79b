"""The compiled form shared by the compiler and the quantifiers: ``Node`` and name resolution."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from secops.policy.conditions import wording
from secops.policy.conditions.decision import ERROR, MANUAL, Decision
from secops.policy.facts import AccountFacts
from secops.policy.fields import FIELDS, FieldSpec
from secops.policy.outcomes import ResultStatus
from secops.policy.spec import Threshold

CompiledCondition = Callable[[AccountFacts, datetime], Decision]
RecordCondition = Callable[[Mapping[str, Any], datetime], Decision]
StatusOf = Callable[[Any, datetime], ResultStatus]
Explain = Callable[[Any, datetime], Decision]


class Node(NamedTuple):
    """A compiled condition: fast status, explained decision, and the condition in words."""

    status: StatusOf
    explain: Explain
    text: str
    fields: tuple[str, ...]  # every field the condition reads
    leaf: bool = False  # one comparison: explaining it costs little more than testing it


class Names:
    """Where names resolve: the account's fields, or one collection's record fields."""

    def __init__(self, thresholds: Mapping[str, Any], collection: FieldSpec | None = None) -> None:
        self.thresholds = thresholds
        self.collection = collection

    def field(self, name: str) -> FieldSpec:
        """The field called ``name`` here; ``ValueError`` when there is none."""
        table = FIELDS if self.collection is None else self.collection.elements
        spec = table.get(name)
        if spec is None:
            inside = "" if self.collection is None else f" in {self.collection.name} records"
            raise ValueError(f"unknown field {name!r}{inside}")
        return spec

    def operand(self, value: Any, threshold: str | None, where: str) -> Any:
        """The literal value, or the named threshold's value."""
        if threshold is None:
            return value
        if value is not None:
            raise ValueError(f"{where}: give a value or a threshold, not both")
        if threshold not in self.thresholds:
            raise ValueError(f"{where}: threshold {threshold!r} is not defined")
        found = self.thresholds[threshold]
        return found.value if isinstance(found, Threshold) else found


def unavailable(spec: FieldSpec, prov: Any, fields: tuple[str, ...]) -> Decision:
    """The unknown verdict of a group whose source failed (error) or had nothing (manual)."""
    status = ERROR if prov.status == "error" else MANUAL
    return Decision(status, wording.unavailable(spec.group, prov), fields)
