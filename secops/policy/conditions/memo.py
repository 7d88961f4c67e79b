"""Verdicts remembered by the facts they were made on: accounts recorded alike are decided once.

A compiled condition reads a few fields and the provenance of their groups, and nothing else but
the time of the evaluation. Accounts recorded together (one import, one round of attestations,
one connector sync) share those facts, and :func:`secops.policy.facts.load_facts` shares their
provenance objects, so the verdict on one of them is the verdict on all. A :class:`Memo` keys a
verdict by the fields' values (lists as tuples) and the identity of the groups' provenance, for
one evaluation time; an entry keeps those provenance objects alive, so no identity it holds can
be reused by other facts while it lives.

A collection is keyed by its records' items (labels included: reasons name the admin or app). A
memo that keeps missing (values that differ from account to account, such as timestamps or
people) turns itself off instead of growing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final, Generic, TypeVar

from secops.policy.facts import AccountFacts, Provenance
from secops.policy.fields import FIELDS, FieldType, Group

T = TypeVar("T")
_SCALAR: Final = frozenset(FieldType) - {FieldType.STRING_LIST, FieldType.COLLECTION}
Key = Callable[[AccountFacts], Hashable]

# Entries one memo holds before it decides whether it is worth keeping.
MEMO_ENTRIES: Final = 4096


def memo_key(fields: Sequence[str]) -> tuple[Key, tuple[Group, ...]] | None:
    """How to key a verdict on ``fields``: the key function and the groups it reads.

    None when a field is a collection (or unknown): such verdicts are not remembered.
    """
    specs = [FIELDS.get(name) for name in fields]
    if not specs or any(spec is None for spec in specs):
        return None
    groups = tuple(dict.fromkeys(spec.group for spec in specs if spec is not None))
    names = tuple(fields)
    scalar = all(spec is not None and spec.type in _SCALAR for spec in specs)
    # The common shapes get a function of their own: this runs for every rule and account.
    if len(names) == 1 and len(groups) == 1:
        name, group = names[0], groups[0]
        if scalar:

            def one(facts: AccountFacts) -> Hashable:
                return id(facts.groups.get(group)), facts.values.get(name)

            return one, groups

        def listed(facts: AccountFacts) -> Hashable:
            value = facts.values.get(name)
            return id(facts.groups.get(group)), (
                _hashable(value) if value.__class__ is list else value
            )

        return listed, groups
    if len(names) == 2 and scalar:
        first, second = names
        group, other = groups[0], groups[-1]

        def two(facts: AccountFacts) -> Hashable:
            provenance, values = facts.groups, facts.values
            return (id(provenance.get(group)), id(provenance.get(other)), values.get(first),
                    values.get(second))  # fmt: skip

        return two, groups

    def several(facts: AccountFacts) -> Hashable:
        provenance, values = facts.groups, facts.values
        parts: list[Hashable] = [id(provenance.get(group)) for group in groups]
        for name in names:
            value = values.get(name)
            parts.append(_hashable(value) if value.__class__ is list else value)
        return tuple(parts)

    return several, groups


def _hashable(items: list[Any]) -> Hashable:
    """A list of strings, or of records (dicts of scalars), as nested tuples."""
    return tuple([tuple(item.items()) if item.__class__ is dict else item for item in items])


class Memo(Generic[T]):
    """Verdicts of one rule at one evaluation time, by the facts they were decided on.

    The evaluator reads ``verdicts`` itself (``verdicts.get(key(facts))``, counting ``hits``):
    this runs for every rule of every account, where a method call would be a large share.
    """

    __slots__ = ("_alive", "_groups", "enabled", "hits", "key", "verdicts")

    def __init__(self, key: Key, groups: tuple[Group, ...]) -> None:
        self.key = key
        self._groups = groups
        self.verdicts: dict[Hashable, T] = {}
        # The provenance objects whose identities the keys hold, kept alive with them.
        self._alive: list[Provenance | None] = []
        self.hits = 0
        self.enabled = True

    def find(self, facts: AccountFacts) -> tuple[Hashable, T | None]:
        """The key of ``facts`` and the verdict remembered for it, if any."""
        key = self.key(facts)
        found = self.verdicts.get(key)
        if found is not None:
            self.hits += 1
        return key, found

    def keep(self, key: Hashable, facts: AccountFacts, verdict: T) -> None:
        """Remember ``verdict`` for the facts ``key`` was made from."""
        if len(self.verdicts) >= MEMO_ENTRIES:
            # Mostly misses: the facts differ from account to account; stop paying for keys.
            self.enabled = self.hits >= len(self.verdicts)
            self.verdicts.clear()
            self._alive.clear()
            self.hits = 0
        self._alive.extend([facts.groups.get(group) for group in self._groups])
        self.verdicts[key] = verdict
