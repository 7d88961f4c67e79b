"""The shape of a policy file (``policies/*.yaml``): pydantic models, ``extra="forbid"`` throughout.

A policy file holds one ``policy`` header and its ``rules``. A rule's ``condition`` states what a
compliant account looks like, as data: a small filter vocabulary (``field``/``op``/``value``,
``all``/``any``/``not``, and quantifiers over collections) that :mod:`secops.policy.conditions`
interprets. There is no ``eval`` and no templating. Thresholds are named values with their source;
a condition refers to one with ``threshold: <name>`` instead of a literal ``value``.

The JSON Schema shipped in ``secops/policy/data/policy.schema.json`` is generated from these models
(``secops policy schema``); a test keeps the two identical.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    Tag,
    field_validator,
)

from secops.accounts.models import AccountKind, AccountStatus, AccountTier, Platform

RULE_ID: Final = re.compile(r"^[A-Z][A-Z0-9]*(\.[A-Z0-9]+)*\.[0-9]+v[0-9]+$")
POLICY_ID: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class Severity(StrEnum):
    """How much a failure matters; the score weighs failures by it."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class Criticality(StrEnum):
    """RFC 2119 strength of the requirement: a SHALL failure is a failure, a SHOULD a warning."""

    SHALL = "shall"
    SHOULD = "should"


class Op(StrEnum):
    """Comparison operators of a leaf condition."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"  # a list field holds the value
    NOT_CONTAINS = "not_contains"
    CONTAINS_ANY = "contains_any"  # a list field holds at least one of the values
    CONTAINS_NONE = "contains_none"  # a list field holds none of the values
    SUBSET_OF = "subset_of"  # every item of a list field is among the values
    IS_SET = "is_set"  # the fact was recorded and has a value (takes no value)
    IS_NOT_SET = "is_not_set"  # the fact was recorded and is empty (takes no value)


class ValueType(StrEnum):
    """How a field's value is converted before it is compared."""

    AGE_DAYS = "age_days"  # a datetime becomes whole days before the evaluation time
    COUNT = "count"  # a list becomes its length


Scalar = bool | int | float | str
LiteralValue = Scalar | list[Scalar]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Leaf(_Strict):
    """``{field, op, value | threshold, value_type?}``: one comparison."""

    field: str = Field(min_length=1, max_length=100)
    op: Op
    value: LiteralValue | None = None
    threshold: str | None = Field(default=None, pattern=NAME.pattern)
    value_type: ValueType | None = None


class AllOf(_Strict):
    """Every sub-condition holds."""

    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    """At least one sub-condition holds."""

    any: list[Condition] = Field(min_length=1)


class Not(_Strict):
    """The sub-condition does not hold."""

    not_: Condition = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Count(_Strict):
    """How many records a ``where`` selects, compared with ``op`` and ``value``/``threshold``."""

    op: Literal[Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE]
    value: StrictInt | None = Field(default=None, ge=0)  # strict: `true` is not 1 record
    threshold: str | None = Field(default=None, pattern=NAME.pattern)


class Quantifier(_Strict):
    """A condition over a collection (``admins``, ``apps``, ``credential.holders``).

    Exactly one of ``every`` (each record satisfies it; true for an empty collection), ``some``
    (at least one record does) or ``count`` (how many records satisfy ``where``, or all records
    when ``where`` is absent). Inner fields are the collection's record fields, unprefixed.
    """

    collection: str = Field(min_length=1, max_length=100)
    every: Condition | None = None
    some: Condition | None = None
    count: Count | None = None
    where: Condition | None = None


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__.lower()
    if not isinstance(value, dict):
        return None
    for key, tag in (("all", "allof"), ("any", "anyof"), ("not", "not"),
                     ("collection", "quantifier"), ("field", "leaf")):  # fmt: skip
        if key in value:
            return tag
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("allof")]
    | Annotated[AnyOf, Tag("anyof")]
    | Annotated[Not, Tag("not")]
    | Annotated[Quantifier, Tag("quantifier")]
    | Annotated[Leaf, Tag("leaf")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message=(
            "a condition is a mapping with one of: field, all, any, not, collection"
        ),
    ),
]


class Threshold(_Strict):
    """A named limit and where it comes from (a standard, guidance, the ministry's own decision)."""

    value: LiteralValue
    source: str = Field(min_length=3, max_length=500)


class AppliesTo(_Strict):
    """Which accounts a rule is about; an empty list means any. Others are ``not_applicable``."""

    platforms: list[Platform] = Field(default_factory=list)
    tiers: list[AccountTier] = Field(default_factory=list)
    kinds: list[AccountKind] = Field(default_factory=list)
    statuses: list[AccountStatus] = Field(
        default_factory=lambda: [AccountStatus.ACTIVE, AccountStatus.DORMANT]
    )


class Rule(_Strict):
    """One requirement: a condition (or a named check module) with everything a reader needs."""

    id: str = Field(pattern=RULE_ID.pattern, max_length=60)
    title: str = Field(min_length=5, max_length=200)
    severity: Severity
    criticality: Criticality = Criticality.SHALL
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    condition: Condition | None = None
    check: str | None = Field(default=None, pattern=NAME.pattern)
    rationale: str = Field(min_length=10, max_length=2000)
    remediation: str = Field(min_length=10, max_length=4000)
    references: list[str] = Field(default_factory=list)
    compliance: dict[str, list[str]] = Field(default_factory=dict)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)

    @field_validator("thresholds")
    @classmethod
    def _threshold_names(cls, value: dict[str, Threshold]) -> dict[str, Threshold]:
        for name in value:
            if not NAME.match(name):
                raise ValueError(f"threshold name {name!r} must be lower_snake_case")
        return value


class PolicyHeader(_Strict):
    """Who owns the policy, which version this is, and when it must be reviewed."""

    id: str = Field(pattern=POLICY_ID.pattern)
    version: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=3, max_length=200)
    owner: str = Field(min_length=2, max_length=200)
    review_by: date
    description: str | None = Field(default=None, max_length=4000)
    waiver_max_days: StrictInt = Field(default=180, ge=1, le=730)
    waiver_warning_days: StrictInt = Field(default=14, ge=1, le=90)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)


class PolicyFile(_Strict):
    """A whole ``policies/*.yaml`` document."""

    policy: PolicyHeader
    rules: list[Rule] = Field(min_length=1)
