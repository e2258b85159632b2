"""What SIGHUP and SIGTERM do, as a small state machine (after ExaBGP's reactor/interrupt.py:
signals set flags, the loop acts on them).

- A SIGHUP while no reload runs starts one; during a reload it asks for one more after it, so
  a burst of signals costs at most one extra reload; after a stop it is ignored.
- A stop while a reload is still reading its config cancels that read (a config it will never
  run); a reload already switching runtimes is finished first.
- A stop waits only for STOP scripts (every notifier is hurried); with ``release_vips`` each
  instance leaves through the machine's Shutdown (VIPs removed); with ``-V`` it sends a
  priority-0 advert and reports STOP, keeping its VIPs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Hup(enum.Enum):
    """What one SIGHUP does."""

    START = "start"  # no reload runs: start one
    QUEUE = "queue"  # one runs: one more after it
    IGNORE = "ignore"  # stopping


class Farewell(enum.Enum):
    """How a running instance leaves at a stop."""

    SHUTDOWN = "shutdown"  # the machine's Shutdown: VIPs removed
    PRIORITY_0 = "priority 0"  # -V: a priority-0 advert and a STOP notify, VIPs kept


@dataclass
class Signals:
    """The reload and stop flags of one daemon."""

    stopping: bool = False
    reloading: bool = False
    loading: bool = False  # a reload is reading its config (in its thread)
    again: bool = False

    def hup(self) -> Hup:
        """SIGHUP arrived."""
        if self.stopping:
            return Hup.IGNORE
        if self.reloading:
            self.again = True
            return Hup.QUEUE
        self.reloading = True
        return Hup.START

    def next_pass(self) -> None:
        """A reload pass begins: SIGHUPs from now on ask for another."""
        self.again = False

    def another_pass(self) -> bool:
        """A pass ended: whether a SIGHUP came during it and no stop since."""
        return self.again and not self.stopping

    def reload_done(self, changed: bool) -> bool:
        """The reload (all its passes) ended; True when the heap should be settled: something
        changed and the daemon goes on running."""
        self.reloading = False
        return changed and not self.stopping

    def stop(self) -> None:
        """SIGTERM / SIGINT arrived."""
        self.stopping = True

    def cancels_reload(self) -> bool:
        """At the stop: whether the reload in progress is cut short (it is still loading)."""
        return self.reloading and self.loading


def farewell(release_vips: bool) -> Farewell:
    """How each instance leaves at a stop (``release_vips`` is False under ``-V``)."""
    return Farewell.SHUTDOWN if release_vips else Farewell.PRIORITY_0
