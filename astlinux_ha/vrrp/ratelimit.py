"""Rate limiting for log lines about bad packets: a flood must not flood the log.

Pure: the caller passes ``now``. Each key (typically a receive-check reason and the peer)
logs at most once per ``interval``; what was held back is counted and reported with the next
line that gets through, or by :meth:`RateLimiter.summaries` once the window has closed.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Window:
    opened: float
    suppressed: int = 0


class RateLimiter:
    """At most one line per key per ``interval`` seconds, with suppressed counts."""

    __slots__ = ("interval", "_windows")

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._windows: dict[Hashable, _Window] = {}

    def filter(self, key: Hashable, message: str, now: float) -> str | None:
        """``message`` (with a suppressed-count note if any) when it may be logged, else None."""
        window = self._windows.get(key)
        if window is not None and now - window.opened < self.interval:
            window.suppressed += 1
            return None
        self._windows[key] = _Window(now)
        if window is not None and window.suppressed:
            return f"{message} ({window.suppressed} similar messages suppressed)"
        return message

    def summaries(self, now: float) -> list[tuple[Hashable, int]]:
        """Keys whose window has closed with lines held back, and how many; forgets them."""
        done = [
            (key, w.suppressed)
            for key, w in self._windows.items()
            if now - w.opened >= self.interval and w.suppressed
        ]
        for key, _ in done:
            del self._windows[key]
        return done

    def reset(self) -> None:
        """Forget every window (keepalived clears its flags on a state change)."""
        self._windows.clear()
