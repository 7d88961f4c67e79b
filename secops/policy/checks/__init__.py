"""Check modules: rules a condition cannot express, one module per check (STYLE.md section 5).

A rule names a check by its id (``check: mfa_not_turned_off``). The id, the module's name and its
function's name are one and the same; :func:`registry_of` refuses anything else at import, as
Prowler's loader does, and a test walks the package to make sure every module is registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Final

from secops.policy.checks import (
    credential_rotated_after_holder_left,
    mfa_not_turned_off,
    recovery_mailbox_protected,
)
from secops.policy.checks.base import (
    CheckContext,
    CheckFunction,
    CheckMetadata,
    Lookup,
    PreviousState,
    no_lookup,
    stored_provenance,
)
from secops.policy.conditions import Decision
from secops.policy.facts import AccountFacts

__all__ = [
    "CHECKS",
    "Check",
    "CheckContext",
    "CheckMetadata",
    "Lookup",
    "PreviousState",
    "no_lookup",
    "registry_of",
    "stored_provenance",
]


@dataclass(frozen=True, slots=True)
class Check:
    """A registered check: its metadata and its function."""

    metadata: CheckMetadata
    function: CheckFunction

    @property
    def id(self) -> str:
        """The name a rule uses: ``check: <id>``."""
        return self.metadata.id

    def __call__(self, facts: AccountFacts, ctx: CheckContext) -> Decision:
        """Run the check on one account."""
        return self.function(facts, ctx)


def registry_of(*modules: ModuleType) -> Mapping[str, Check]:
    """The checks of ``modules``, each verified: metadata id = module name = function name.

    Raises ``ImportError`` on a module that breaks the rule, so a misnamed check stops the
    import of the whole package rather than being skipped.
    """
    found: dict[str, Check] = {}
    for module in modules:
        name = module.__name__.rsplit(".", 1)[-1]
        metadata = getattr(module, "METADATA", None)
        function = getattr(module, name, None)
        if not isinstance(metadata, CheckMetadata) or metadata.id != name:
            raise ImportError(f"check module {name}: METADATA.id must be {name!r}")
        if not callable(function) or getattr(function, "__name__", None) != name:
            raise ImportError(f"check module {name}: it must define a function {name}()")
        if name in found:
            raise ImportError(f"check {name} registered twice")
        found[name] = Check(metadata, function)
    return MappingProxyType(found)


CHECKS: Final[Mapping[str, Check]] = registry_of(
    credential_rotated_after_holder_left,
    mfa_not_turned_off,
    recovery_mailbox_protected,
)
