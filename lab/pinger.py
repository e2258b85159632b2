"""A LAN client's view of failover: ping a target every 10 ms and find the longest silence.

Runs iputils ``ping -D -O`` in the client box: -D stamps each reply with its arrival time, -O
reports unanswered requests, so the gaps between answers are measured on the client itself.
"""

from __future__ import annotations

import re
import signal
import time
from dataclasses import dataclass, field

from .box import Box, Spawned

# The address may be IPv6 (colons inside): up to the ": icmp_seq" that ends it.
_REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from (.+?): icmp_seq=(\d+)")
_MISSED = re.compile(r"^\[(\d+\.\d+)\] no answer yet for icmp_seq=(\d+)")


@dataclass(frozen=True)
class Gap:
    """A silence between two answers: from the last reply before it to the first after."""

    start: float
    end: float

    @property
    def length(self) -> float:
        """Seconds without an answer."""
        return self.end - self.start


@dataclass
class PingReport:
    """What the client saw: reply times (wall clock), requests sent, unanswered count."""

    started: float
    stopped: float
    replies: list[tuple[float, int]] = field(default_factory=list)
    missed: int = 0

    def gaps(self, longer_than: float = 0.05) -> list[Gap]:
        """Silences longer than ``longer_than`` seconds, in time order (the timeline)."""
        times = [self.started] + [t for t, _ in self.replies] + [self.stopped]
        return [Gap(a, b) for a, b in zip(times, times[1:], strict=False) if b - a > longer_than]

    @property
    def longest_gap(self) -> float:
        """The longest time without an answer, including before the first and after the last."""
        gaps = self.gaps(0.0)
        return max((gap.length for gap in gaps), default=0.0)

    def longest_gap_between(self, start: float, end: float) -> float:
        """The longest silence overlapping wall-clock window [start, end]."""
        spans = [g for g in self.gaps(0.0) if g.end >= start and g.start <= end]
        return max((min(g.end, end) - max(g.start, start) for g in spans), default=0.0)


class Pinger:
    """Pings ``target`` from ``box`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, box: Box, target: str, interval: float = 0.01) -> None:
        self.target = target
        self.started = time.time()
        self._proc: Spawned = box.spawn(
            ["ping", "-n", "-D", "-O", "-W", "1", "-i", f"{interval:g}", target],
            name=f"ping-{target}")

    def stop(self) -> PingReport:
        """Stop pinging and return the report."""
        stopped = time.time()
        if self._proc.alive():
            self._proc.stop(timeout=5, sig=signal.SIGINT)
        return parse_ping_output(self._proc.log_text(), self.started, stopped)

    def report(self) -> PingReport:
        """The report so far, while it keeps pinging."""
        return parse_ping_output(self._proc.log_text(), self.started, time.time())

    def __enter__(self) -> Pinger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parse_ping_output(text: str, started: float, stopped: float) -> PingReport:
    """Build a PingReport from ``ping -D -O`` output."""
    report = PingReport(started, stopped)
    for line in text.splitlines():
        if match := _REPLY.match(line):
            report.replies.append((float(match.group(1)), int(match.group(3))))
        elif _MISSED.match(line):
            report.missed += 1
    return report
