"""When a new master announces its VIPs: keepalived's garp_master_* knobs as asyncio tasks.

On entering MASTER keepalived sends ``garp_master_repeat`` GARPs/NAs per VIP at once, the same
again ``garp_master_delay`` seconds later (0: no second burst), then, if ``garp_master_refresh``
is set, ``garp_master_refresh_repeat`` every ``garp_master_refresh`` seconds while master.
``vrrp_min_garp`` is repeat 1 and delay 0, which the config layer resolves into the plan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .announce import Announcer, AnnounceResult, IPAddress

log = logging.getLogger("astlinux_ha.net.garp_schedule")


@dataclass(frozen=True)
class GarpPlan:
    """One instance's announcement knobs, keepalived's defaults."""

    repeat: int = 5
    delay: float = 5.0
    refresh: float = 0.0
    refresh_repeat: int = 1


class AnnouncementSchedule:
    """Runs one announcement plan per instance; leaving MASTER cancels it."""

    def __init__(
        self,
        announcer: Announcer,
        on_result: Callable[[str, AnnounceResult], None] | None = None,
    ) -> None:
        self._announcer = announcer
        self._on_result = on_result
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start_master(
        self, name: str, ifname: str, vips: Sequence[IPAddress], plan: GarpPlan
    ) -> None:
        """Begin announcing ``vips`` for instance ``name`` (replacing a plan already running)."""
        self.stop(name)
        task = asyncio.get_running_loop().create_task(
            self._run(name, ifname, tuple(vips), plan), name=f"garp-{name}"
        )
        self._tasks[name] = task
        task.add_done_callback(lambda t, n=name: self._forget(n, t))

    def announce_once(
        self, name: str, ifname: str, vips: Sequence[IPAddress], repeat: int, delay: float = 0.0
    ) -> None:
        """One extra burst, e.g. ``garp_lower_prio_repeat`` after ``garp_lower_prio_delay``.

        Runs alongside the master plan and is cancelled with it.
        """
        async def burst() -> None:
            if delay > 0:
                await asyncio.sleep(delay)
            await self._burst(name, ifname, tuple(vips), repeat)

        extra = f"{name}\0lower-prio"
        self.stop(extra)
        task = asyncio.get_running_loop().create_task(burst(), name=f"garp-{name}-extra")
        self._tasks[extra] = task
        task.add_done_callback(lambda t, n=extra: self._forget(n, t))

    def stop(self, name: str) -> None:
        """Stop announcing for ``name`` (leaving MASTER, stopping, reloading)."""
        for key in (name, f"{name}\0lower-prio"):
            task = self._tasks.pop(key, None)
            if task is not None:
                task.cancel()

    def stop_all(self) -> None:
        """Stop every plan."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    def active(self, name: str) -> bool:
        """Whether a plan is running for ``name``."""
        return name in self._tasks

    async def _run(
        self, name: str, ifname: str, vips: tuple[IPAddress, ...], plan: GarpPlan
    ) -> None:
        await self._burst(name, ifname, vips, plan.repeat)
        if plan.delay > 0:
            await asyncio.sleep(plan.delay)
            await self._burst(name, ifname, vips, plan.repeat)
        if plan.refresh <= 0:
            return
        while True:
            await asyncio.sleep(plan.refresh)
            await self._burst(name, ifname, vips, plan.refresh_repeat)

    async def _burst(
        self, name: str, ifname: str, vips: tuple[IPAddress, ...], repeat: int
    ) -> None:
        result = await self._announcer.announce(ifname, vips, repeat)
        if self._on_result is not None:
            self._on_result(name, result)
        elif result.errors:
            log.warning("(%s) gratuitous ARP/NA on %s: %s", name, ifname, result.errors[0])

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("announcement task %s failed: %s", key, task.exception())
