"""One loop timer per advert interval for every master's periodic advert.

A wake-up of the asyncio loop costs far more than an advert (~180 us against ~20 us on the
small routers this runs on), and 200 masters each arming their own timer woke the loop 40-50
times a second. Here the masters that share an advert interval share a grid of deadlines,
``origin + k * interval``, and one loop timer serves every master due at a grid point.

A deadline joins the latest grid point not after it: an advert may go out earlier than the
instance asked, never later, so no RFC timer is stretched. A master's periodic re-arm (now +
interval, asked when a grid point fired) lands on the next grid point exactly, so an instance
stays aligned, and a late wake-up does not delay the adverts after it; only a deadline armed
off the grid (a new mastership, or the advert sent at once for a priority change or a reload)
moves, by less than one interval. A key alone on its grid moves the grid instead, so a lone
instance keeps the timing it would have had with a timer of its own, less the drift.

Only the scheduling is here; what an instance does when its advert is due is its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any

from astlinux_ha.runtime.ports import Clock, Handle

# A re-arm computed as (grid point + interval) may come out a hair below the next grid point
# in floating point; without this slack it would fall back one whole interval.
_SLACK = 1e-9


class AdvertTicks:
    """The shared advert grids of one daemon, over ``clock``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._grids: dict[float, _Grid] = {}
        # Called after every grid point's adverts: work that may ride on a wake-up the
        # adverts cause anyway (the daemon's once-a-second housekeeping) instead of its own.
        self.after_fire: list[Callable[[], Any]] = []

    def call_at(self, key: Hashable, interval: float, at: float,
                callback: Callable[[], Any]) -> Handle:
        """Call ``callback`` at the grid point of ``interval`` that is latest not after
        ``at``, sharing one loop timer with every other key due there. One deadline per
        ``key``: arming again moves it. The returned handle's ``cancel`` takes it off."""
        grid = self._grids.get(interval)
        if grid is None:
            grid = self._grids[interval] = _Grid(self, interval, at)
        return grid.arm(key, at, callback)

    def grids(self) -> dict[float, int]:
        """How many deadlines each interval's grid holds (for tests and dumps)."""
        return {interval: len(grid.entries) for interval, grid in self._grids.items()}

    def _drop(self, grid: _Grid) -> None:
        if self._grids.get(grid.interval) is grid:
            del self._grids[grid.interval]


class _Entry:
    """One key's deadline on a grid; also the handle its owner cancels."""

    __slots__ = ("grid", "key", "callback", "slot")

    def __init__(self, grid: _Grid, key: Hashable, callback: Callable[[], Any], slot: int) -> None:
        self.grid = grid
        self.key = key
        self.callback = callback
        self.slot = slot

    def cancel(self) -> None:
        """Take this deadline off its grid (a no-op once it fired or was moved)."""
        self.grid.remove(self)


class _Grid:
    """The deadlines ``origin + k * interval`` and the one loop timer for the earliest."""

    def __init__(self, owner: AdvertTicks, interval: float, origin: float) -> None:
        self.owner = owner
        self.interval = interval
        self.origin = origin
        self.entries: dict[Hashable, _Entry] = {}
        # slot index -> the entries due there, in the order they were armed (the order the
        # instances' own timers would have fired in).
        self.slots: dict[int, dict[Hashable, _Entry]] = {}
        self._handle: Handle | None = None
        self._handle_slot: int | None = None
        # The key whose callback runs now: its re-arm is periodic and keeps the grid, so a
        # late wake-up does not push every later advert back (no drift).
        self._firing: Hashable | None = None
        self._spent: _Entry | None = None  # the firing key's entry, until it re-arms

    def slot_of(self, at: float) -> int:
        return math.floor((at - self.origin) / self.interval + _SLACK)

    def arm(self, key: Hashable, at: float, callback: Callable[[], Any]) -> _Entry:
        entry = self.entries.get(key)
        if key is not self._firing and len(self.entries) == (entry is not None):
            # Alone on the grid and off its beat (a new mastership, an advert sent at once):
            # the grid follows this key, whose timing stays its own.
            if entry is not None:
                self._unslot(entry)
            self.origin = at
            self._cancel_handle()
        slot = self.slot_of(at)
        if entry is None and key is self._firing and self._spent is not None:
            # The periodic re-arm takes back the entry that just fired: nothing allocated.
            entry, self._spent = self._spent, None
            entry.callback, entry.slot = callback, slot
            self.entries[key] = entry
        elif entry is None:
            entry = self.entries[key] = _Entry(self, key, callback, slot)
        else:
            self._unslot(entry)
            entry.callback, entry.slot = callback, slot
        self.slots.setdefault(slot, {})[key] = entry
        if self._handle_slot is None or slot < self._handle_slot:
            self._schedule(slot)
        return entry

    def remove(self, entry: _Entry) -> None:
        if self.entries.get(entry.key) is not entry:
            return
        del self.entries[entry.key]
        self._unslot(entry)
        if not self.entries:
            self._cancel_handle()
            self.owner._drop(self)
        elif entry.slot == self._handle_slot and entry.slot not in self.slots:
            self._schedule(min(self.slots))

    def _unslot(self, entry: _Entry) -> None:
        due = self.slots.get(entry.slot)
        if due is not None and due.pop(entry.key, None) is not None and not due:
            del self.slots[entry.slot]

    def _schedule(self, slot: int) -> None:
        self._cancel_handle()
        self._handle_slot = slot
        self._handle = self.owner._clock.call_at(self.origin + slot * self.interval,
                                                 self._fire, slot)

    def _cancel_handle(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._handle_slot = None

    def _fire(self, slot: int) -> None:
        self._handle = None
        self._handle_slot = None
        due = self.slots.pop(slot, {})
        for key, entry in due.items():
            # Off the grid before its callback runs: the callback re-arms (or not) itself.
            if self.entries.get(key) is entry and entry.slot == slot:
                del self.entries[key]
                self._firing, self._spent = key, entry
                try:
                    entry.callback()
                finally:
                    self._firing = self._spent = None
        if not self.entries:
            self._cancel_handle()
            self.owner._drop(self)
        elif self._handle_slot is None:
            self._schedule(min(self.slots))
        for hook in self.owner.after_fire:
            hook()
