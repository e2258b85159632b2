"""Tracked objects (interfaces, scripts): what their state does to an instance.

keepalived's rules (vrrp_track.c, conf.5's weight table): weight 0 means the instance is in
FAULT while the object is down (``reverse``: while it is up). A positive weight is added while
the object is up, a negative one subtracted while it is down; ``reverse`` flips the sign of
the adjustment. The sum is clamped to 1..254, and an address owner's 255 never moves.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .timing import OWNER_PRIORITY


class TrackKind(enum.Enum):
    """What kind of object is tracked; names are unique per kind."""

    INTERFACE = "interface"
    SCRIPT = "script"
    ADDRESS = "address"  # the configured advert source address


TrackKey = tuple[TrackKind, str]


@dataclass(frozen=True, slots=True)
class TrackSpec:
    """One tracked object of an instance (the instance's own interface included)."""

    kind: TrackKind
    name: str
    weight: int = 0
    reverse: bool = False

    @property
    def key(self) -> TrackKey:
        """The (kind, name) pair events refer to."""
        return (self.kind, self.name)

    def describe(self) -> str:
        """Human name for logs, e.g. ``interface eth0`` or ``track script chk_wan``."""
        return {
            TrackKind.INTERFACE: f"interface {self.name}",
            TrackKind.SCRIPT: f"track script {self.name}",
            TrackKind.ADDRESS: f"source address {self.name}",
        }[self.kind]

    def contribution(self, up: bool | None) -> int:
        """Priority adjustment for status ``up`` (None: no result yet, which adjusts nothing)."""
        if self.weight == 0 or up is None:
            return 0
        active = up if self.weight > 0 else not up
        value = self.weight if active else 0
        return -value if self.reverse else value

    def faulty(self, up: bool | None) -> bool:
        """True when this (unweighted) object puts the instance in FAULT."""
        return self.weight == 0 and up is not None and up == self.reverse


def effective_priority(
    base: int, specs: Iterable[TrackSpec], status: Mapping[TrackKey, bool | None]
) -> int:
    """``base`` adjusted by every weighted object, clamped to 1..254; 255 is never changed."""
    if base == OWNER_PRIORITY:
        return base
    total = base + sum(s.contribution(status.get(s.key)) for s in specs)
    return min(max(total, 1), OWNER_PRIORITY - 1)


def faults(specs: Iterable[TrackSpec], status: Mapping[TrackKey, bool | None]) -> list[str]:
    """Why the instance must be in FAULT: the unweighted objects that say so, for logs."""
    return [s.describe() for s in specs if s.faulty(status.get(s.key))]


def pending(specs: Iterable[TrackSpec], status: Mapping[TrackKey, bool | None]) -> list[str]:
    """Unweighted objects with no result yet: keepalived holds the instance until they report."""
    return [s.describe() for s in specs if s.weight == 0 and status.get(s.key) is None]
