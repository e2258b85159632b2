"""The edges the shells (supervisor.py, instance.py) act through, as protocols: the daemon
passes the real ones (the asyncio loop, pyroute2, raw sockets), the unit and conformance tests
pass recording fakes with a virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Handle(Protocol):
    """A scheduled callback that can be called off."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time and timers: the running loop, or a test's virtual clock."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Handle: ...

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Handle: ...
