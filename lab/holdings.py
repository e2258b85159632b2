"""Who holds each instance's VIPs, watched continuously while a rehearsal runs.

:class:`monitor.HolderMonitor` watches one address; a rehearsal has several instances, each with
its VIPs, on two boxes. One thread reads both boxes' addresses every ``interval`` and derives,
per instance, the boxes holding any of its VIPs; it judges them against the phase the scenario
set, as HolderMonitor does (two holders while *settled* is a violation).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from .monitor import BLOCKED, SETTLED, TRANSITION, Poller

__all__ = ["BLOCKED", "SETTLED", "TRANSITION", "HoldingsMonitor"]

Holders = dict[str, list[str]]


class HoldingsMonitor(Poller):
    """Polls ``addresses(box)`` for each box; tracks each instance's holders over time."""

    def __init__(self, boxes: Sequence[str], vips: Mapping[str, Sequence[str]],
                 addresses: Callable[[str], set[str]], interval: float = 0.03) -> None:
        super().__init__(interval, "holdings")
        self.boxes = list(boxes)
        self.vips = {name: list(v) for name, v in vips.items()}
        self._addresses = addresses
        self.current: Holders = {name: [] for name in self.vips}
        self.partial: dict[str, list[str]] = {name: [] for name in self.vips}
        self.since: dict[str, float] = {name: time.time() for name in self.vips}
        self.changes: list[tuple[float, str, list[str]]] = []  # (wall time, instance, holders)
        self.violations: list[tuple[float, str, list[str]]] = []

    def wait_for(self, expected: Mapping[str, Sequence[str]], timeout: float) -> bool:
        """Block until every instance is held by exactly its expected boxes (all its VIPs on
        each); False on timeout."""
        want = {name: sorted(boxes) for name, boxes in expected.items()}
        return self._wait(lambda: self._matches(want), timeout)

    def _matches(self, want: Mapping[str, list[str]]) -> bool:
        return all(sorted(self.current[name]) == boxes and not self.partial[name]
                   for name, boxes in want.items())

    def snapshot(self) -> tuple[Holders, dict[str, list[str]], dict[str, float]]:
        """(holders, boxes holding only some VIPs, when each instance's holders last changed)."""
        with self._cond:
            return ({k: list(v) for k, v in self.current.items()},
                    {k: list(v) for k, v in self.partial.items()}, dict(self.since))

    def _poll(self) -> dict[str, set[str]]:
        return {box: self._addresses(box) for box in self.boxes}

    def _judge(self, now: float, seen: Mapping[str, set[str]]) -> None:
        with self._cond:
            for name, vips in self.vips.items():
                holders = [b for b in self.boxes if any(v in seen[b] for v in vips)]
                self.partial[name] = [b for b in holders if not all(v in seen[b] for v in vips)]
                if holders != self.current[name]:
                    self.changes.append((now, name, holders))
                    self.current[name] = holders
                    self.since[name] = now
                if len(holders) > 1 and self.phase == SETTLED:
                    self.violations.append((now, name, holders))
            self._cond.notify_all()
