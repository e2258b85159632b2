"""When did an address come and go on a box: ``ip -ts monitor address`` in the box.

The kernel's own netlink events, stamped by ``ip`` as they arrive (microseconds), so a
failover time is not rounded up to a polling interval. Times are wall clock, the same clock
as ``time.time()``, pcap stamps and ``ping -D``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

from lab import Box, Spawned

_EVENT = re.compile(r"^\[(?P<ts>[0-9T:.\-]+)\]\s+(?P<deleted>Deleted\s+)?\d+:\s+\S+\s+"
                    r"inet6?\s+(?P<ip>[0-9a-fA-F.:]+)/\d+")


@dataclass(frozen=True)
class AddrEvent:
    """An address added (``added``) or deleted on the box at wall time ``time``."""

    time: float
    ip: str
    added: bool


def parse_monitor(text: str) -> list[AddrEvent]:
    """Address events from ``ip -ts monitor address`` output (continuation lines skipped)."""
    events = []
    for line in text.splitlines():
        match = _EVENT.match(line)
        if match:
            stamp = datetime.fromisoformat(match.group("ts")).timestamp()
            events.append(AddrEvent(stamp, match.group("ip"), not match.group("deleted")))
    return events


class AddrWatch:
    """``ip -ts monitor address`` running in ``box`` until the lab is torn down."""

    def __init__(self, box: Box) -> None:
        self.box = box
        self._proc: Spawned = box.spawn(["ip", "-ts", "monitor", "address"], name="ipmon")
        time.sleep(0.2)  # let it bind before anything it should see happens

    def events(self, ip: str | None = None, since: float = 0.0) -> list[AddrEvent]:
        """Events so far (for ``ip`` only when given) at or after wall time ``since``."""
        return [e for e in parse_monitor(self._proc.log_text())
                if e.time >= since and (ip is None or e.ip == ip)]

    def first(self, ip: str, added: bool, since: float) -> float | None:
        """Wall time of the first add (or delete) of ``ip`` at or after ``since``."""
        for event in self.events(ip, since):
            if event.added == added:
                return event.time
        return None

    def count(self, added: bool, since: float, prefix: str = "") -> int:
        """How many distinct addresses starting with ``prefix`` were added (or deleted)."""
        return len({e.ip for e in self.events(since=since)
                    if e.added == added and e.ip.startswith(prefix)})

    def stop(self) -> None:
        """Stop monitoring."""
        self._proc.stop(timeout=3)
