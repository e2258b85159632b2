"""An asyncio loop on a virtual clock: the daemon's timers, sleeps and timeouts run as they
would, but time jumps to the next deadline whenever the loop would wait, so a case that spans
minutes of VRRP runs in milliseconds and its output has exact, repeatable times.

Only the loop's own wake-up pipe is real. While a worker thread is busy (the config load of a
reload runs in one) the clock stands still and the loop waits for it for real: the thread's
answer must arrive at the virtual instant it was asked for, as it would on a router where
parsing is quick next to an advert interval.
"""

from __future__ import annotations

import asyncio
import selectors
import threading
from typing import Any


def _helpers_busy() -> bool:
    return any(t is not threading.main_thread() and t.is_alive() and t.daemon
               for t in threading.enumerate())


class _VirtualSelector(selectors.BaseSelector):
    """Selects on the real selector without ever blocking; a wait moves the clock instead."""

    def __init__(self) -> None:
        self._real = selectors.DefaultSelector()
        self.loop: VirtualLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if _helpers_busy():
            while _helpers_busy():
                ready = self._real.select(0.002)
                if ready:
                    return ready
            # The thread may have handed its answer over just before it ended.
            ready = self._real.select(0)
            if ready:
                return ready
        if timeout is None:
            # Nothing scheduled and nothing running: only another thread could wake us.
            return self._real.select(1.0)
        assert self.loop is not None
        self.loop.advance(timeout)
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    """A selector loop whose ``time()`` is virtual, starting at 0.0."""

    def __init__(self) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (the loop does this itself whenever it would wait)."""
        self._now += max(seconds, 0.0)
