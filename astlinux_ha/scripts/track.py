"""vrrp_script tracking: run each script every ``interval``, count rise/fall, report changes.

Counting follows keepalived's ``vrrp_script_child_thread``: ``result`` runs over
0..rise+fall-1 and the script is up when ``result >= rise``. It starts at rise-1 so the first
run decides (``init_fail`` starts it at 0, i.e. down). A success below rise-1 climbs by one;
reaching rise jumps to the top. A failure above rise steps down by one; otherwise it drops to
0. The very first result is always reported, so the state machine leaves INIT.

A run still going when the next is due is skipped (keepalived's log line). A run longer than
``timeout`` gets SIGTERM to its process group, SIGKILL 2 s later, and counts as a failure.

What a status does to an instance (weights, FAULT) is the VRRP core's rule:
``astlinux_ha.vrrp.tracking``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .runner import DEFAULT_UMASK, KILL_GRACE, RunnableScript, RunResult, run_with_timeout

log = logging.getLogger("astlinux_ha.scripts")


@dataclass(frozen=True)
class TrackScriptSpec:
    """One checked ``vrrp_script`` block (times in seconds)."""

    name: str
    command: RunnableScript
    interval: float = 1.0
    timeout: float | None = None  # keepalived: 0/unset means the interval
    rise: int = 1
    fall: int = 1
    init_fail: bool = False

    @property
    def effective_timeout(self) -> float:
        """The run time allowed before the script is killed."""
        return self.timeout if self.timeout else self.interval


@dataclass(frozen=True)
class TrackStatus:
    """A change reported to the daemon: ``up`` is the script's new status."""

    name: str
    up: bool


class RiseFall:
    """keepalived's rise/fall counter; record() returns the new status when it is reported."""

    def __init__(self, rise: int, fall: int, *, init_fail: bool = False) -> None:
        if rise < 1 or fall < 1:
            raise ValueError("rise and fall must be at least 1")
        self.rise = rise
        self.fall = fall
        self.result = 0 if init_fail else rise - 1
        self._initial = not init_fail

    @property
    def up(self) -> bool:
        """Current status (before the first result: down only with init_fail)."""
        return self.result >= self.rise

    @property
    def decided(self) -> bool:
        """Whether the status is known: after the first result, or from the start with init_fail."""
        return not self._initial

    def record(self, success: bool) -> bool | None:
        """Count one result; return True/False when keepalived reports up/down, else None."""
        initial, self._initial = self._initial, False
        top = self.rise + self.fall - 1
        if success:
            if self.result < self.rise - 1:
                self.result += 1
                return None
            if self.result != top:
                changed = self.result < self.rise
                self.result = top
                return True if changed else None
            return None
        if self.result > self.rise:
            self.result -= 1
            return None
        report = self.result == self.rise or initial
        self.result = 0
        return False if report else None


class TrackScript:
    """Schedules one vrrp_script on the running loop and reports status changes."""

    def __init__(
        self,
        spec: TrackScriptSpec,
        on_change: Callable[[TrackStatus], None],
        *,
        umask: int = DEFAULT_UMASK,
        kill_grace: float = KILL_GRACE,
    ) -> None:
        self.spec = spec
        self.on_change = on_change
        self.umask = umask
        self.kill_grace = kill_grace
        self.counter = RiseFall(spec.rise, spec.fall, init_fail=spec.init_fail)
        self.last_status: int | None = None
        self._run: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    @property
    def up(self) -> bool | None:
        """Known status; None until the first result unless init_fail."""
        if not self.counter.decided:
            return None
        return self.counter.up

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._run is not None and not self._run.done()

    def start(self) -> None:
        """Run now and then every interval, on the running loop."""
        self._tick()

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.spec.interval, self._tick)
        if self.running:
            log.info(
                "Track script %s is already running, expect idle - skipping run", self.spec.name
            )
            return
        self._run = loop.create_task(self._run_once(), name=f"vrrp_script {self.spec.name}")

    async def _run_once(self) -> None:
        result = await run_with_timeout(
            self.spec.command,
            self.spec.effective_timeout,
            umask=self.umask,
            grace=self.kill_grace,
        )
        self.record(result)

    def record(self, result: RunResult) -> None:
        """Feed one run's result through the counter and report a change."""
        name = self.spec.name
        if not result.timed_out and result.returncode is not None and result.returncode >= 0:
            if result.returncode != self.last_status:
                log.info("Script `%s` now returning %d", name, result.returncode)
            self.last_status = result.returncode
        change = self.counter.record(result.success)
        if change is None:
            return
        if change:
            log.info("VRRP_Script(%s) succeeded", name)
        elif result.timed_out:
            log.info("VRRP_Script(%s) timed_out", name)
        elif result.returncode is not None and result.returncode < 0:
            log.info("VRRP_Script(%s) failed (due to signal %d)", name, -result.returncode)
        else:
            log.info("VRRP_Script(%s) failed (exited with status %s)", name, result.returncode)
        self.on_change(TrackStatus(name, change))

    async def stop(self) -> None:
        """Stop scheduling and kill a run in progress (its group gets SIGKILL)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._run is not None and not self._run.done():
            self._run.cancel()
            try:
                await self._run
            except asyncio.CancelledError:
                pass
        self._run = None
