"""Watching who holds an address, continuously, while a scenario runs.

One thread polls every box over netlink and is the only one that does: the scenario waits on
it. Each poll is judged against the current phase: while *settled*, two holders is a violation;
during a *transition* (between an action and its expected outcome) a brief overlap is only
measured, since a handover takes a packet's flight; while *blocked* (VRRP dropped on purpose),
two holders is the expected split brain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Self

SETTLED, TRANSITION, BLOCKED = "settled", "transition", "blocked"


class Poller:
    """The polling thread both monitors share: ``_poll()`` every ``interval`` seconds, each
    result judged by ``_judge(now, seen)`` under the condition the waiters wait on. An error
    in a poll ends the thread and is raised to the next waiter, not lost with the thread."""

    def __init__(self, interval: float, name: str) -> None:
        self.interval = interval
        self.phase = TRANSITION
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        """Begin polling."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling and wait for the thread."""
        self._stop.set()
        self._thread.join(5)

    def set_phase(self, phase: str) -> None:
        """Tell the monitor how to judge what it sees from now on."""
        with self._cond:
            self.phase = phase
            self._phase_changed()

    def _phase_changed(self) -> None:
        """Called with the lock held when the phase is set."""

    def _wait(self, ready: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            ok = self._cond.wait_for(lambda: ready() or self.error is not None, timeout)
        if self.error is not None:
            raise self.error
        return bool(ok)

    def _poll(self) -> Any:
        raise NotImplementedError

    def _judge(self, now: float, seen: Any) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                seen = self._poll()
            except BaseException as exc:  # surface to the waiting scenario, not a dead thread
                with self._cond:
                    self.error = exc
                    self._cond.notify_all()
                return
            self._judge(time.time(), seen)
            self._stop.wait(self.interval)


class HolderMonitor(Poller):
    """Polls ``holders()`` every ``interval`` seconds; records changes and violations."""

    def __init__(self, holders: Callable[[], list[str]], interval: float = 0.03) -> None:
        super().__init__(interval, "holder-monitor")
        self._holders = holders
        self.current: list[str] = []
        self.changes: list[tuple[float, list[str]]] = []  # (wall time, holders)
        self.violations: list[tuple[float, list[str]]] = []
        self.max_overlap = 0.0
        self._overlap_since: float | None = None

    def _phase_changed(self) -> None:
        self._overlap_since = None

    def _poll(self) -> list[str]:
        return self._holders()

    def wait_for(self, expected: list[str], timeout: float) -> float | None:
        """Block until exactly ``expected`` hold the address; seconds waited, None on timeout."""
        start = time.monotonic()
        want = sorted(expected)
        ok = self._wait(lambda: sorted(self.current) == want, timeout)
        return time.monotonic() - start if ok else None

    def current_since(self) -> float:
        """Wall time at which the current set of holders was first seen."""
        with self._cond:
            return self.changes[-1][0] if self.changes else time.time()

    def _judge(self, now: float, holders: list[str]) -> None:
        with self._cond:
            if holders != self.current or not self.changes:
                self.changes.append((now, holders))
            self.current = holders
            if len(holders) > 1:
                if self.phase == SETTLED:
                    self.violations.append((now, holders))
                elif self.phase == TRANSITION:
                    self._overlap_since = self._overlap_since or now
                    self.max_overlap = max(self.max_overlap, now - self._overlap_since)
            else:
                self._overlap_since = None
            self._cond.notify_all()
