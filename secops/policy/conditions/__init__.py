"""The condition interpreter: a rule's ``condition`` (data) compiled into fast closures.

``compile_condition(cond, thresholds)`` returns a function ``(facts, now) -> Decision`` built once
per policy; evaluating an account is a few closure calls, never a walk of the YAML tree. The
verdict is three-valued (see :mod:`secops.policy.conditions.decision`): a fact that was never
recorded makes the condition ``manual``, a source that failed makes it ``error``, and neither is
ever a pass. Each decision carries one readable sentence and the fields that decided it.
``compile_node`` gives the whole compiled form (:class:`Node`): a status-only closure as well,
and the condition in words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secops.policy.conditions.compiler import compile_root
from secops.policy.conditions.decision import Decision, all_of, any_of
from secops.policy.conditions.nodes import CompiledCondition, Node, RecordCondition
from secops.policy.spec import Condition

__all__ = [
    "CompiledCondition",
    "Decision",
    "Node",
    "RecordCondition",
    "all_of",
    "any_of",
    "compile_condition",
    "compile_node",
    "describe_condition",
]


def compile_node(cond: Condition, thresholds: Mapping[str, Any]) -> Node:
    """``cond`` compiled: ``status`` and ``explain`` closures over facts, its text and fields.

    ``thresholds`` maps a name to its value (or to a :class:`~secops.policy.spec.Threshold`):
    the rule's thresholds over the policy's. Raises ``ValueError`` on a condition that cannot be
    evaluated (unknown field, operator unfit for the type, missing threshold); the loader's
    validation reports those with file and line before anything is compiled.
    """
    return compile_root(cond, thresholds)


def compile_condition(cond: Condition, thresholds: Mapping[str, Any]) -> CompiledCondition:
    """``cond`` as a closure ``(facts, now) -> Decision`` (see :func:`compile_node`)."""
    explain: CompiledCondition = compile_root(cond, thresholds).explain
    return explain


def describe_condition(cond: Condition, thresholds: Mapping[str, Any]) -> str:
    """The compliant state in words: ``"MFA is enabled and Minimum password length is..."``."""
    return compile_root(cond, thresholds).text
