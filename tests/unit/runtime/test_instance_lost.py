"""InstanceRunner.lost (issue 14 item 2): a VIP deleted from the box is put back only while
this mastership holds it, and only when the kernel confirms it is gone - the daemon's own
removals, and a deletion reported after the VIP was set again, are no loss."""

from __future__ import annotations

import asyncio
from typing import Any

from test_instance_shell import OWNER, VIP, Box, run

from astlinux_ha.runtime.demux import Owned
from astlinux_ha.vrrp import model as core


class Present:
    """present_vips for the fake edges: what the kernel has now."""

    def __init__(self, box: Box) -> None:
        self.box = box
        self.there: set[Any] = set()
        self.asked = 0

    async def __call__(self, vips: list[Any]) -> set[Any]:
        self.asked += 1
        await asyncio.sleep(0)
        return {v for v in vips if v in self.there}


def _box() -> tuple[Box, Present, Owned]:
    box = Box(OWNER)
    present = Present(box)
    box.edges.present_vips = present  # type: ignore[attr-defined]
    (vip,) = box.runner.plan.vips
    return box, present, Owned("VI_1", vip, f"VIP {VIP}")


def test_a_vip_deleted_while_held_steps_the_master_down() -> None:
    run(_held())


async def _held() -> None:
    box, present, owned = _box()
    runner = box.runner
    runner.feed(core.Start())
    assert not runner.holding  # the VIPs are queued, not set yet
    runner.lost(owned)
    await runner.drain()
    assert present.asked == 0 and runner.state.role is core.Role.MASTER
    assert runner.holding
    runner.lost(owned)
    await runner.drain()
    assert [t.cause for t in box.transitions][-1] == f"VIP {VIP} deleted"
    assert runner.state.role is core.Role.BACKUP and not runner.holding
    runner.cancel_timers()


def test_a_deletion_reported_after_the_vip_is_back_is_no_loss() -> None:
    run(_stale())


async def _stale() -> None:
    box, present, owned = _box()
    runner = box.runner
    runner.feed(core.Start())
    await runner.drain()
    present.there.add(owned.item)  # our own remove-then-add: the kernel has it again
    runner.lost(owned)
    await runner.drain()
    assert present.asked == 1
    assert runner.state.role is core.Role.MASTER
    assert [t.to_role for t in box.transitions] == [core.Role.MASTER]
    runner.cancel_timers()


def test_the_masters_own_removal_is_no_loss() -> None:
    run(_own())


async def _own() -> None:
    box, present, owned = _box()
    runner = box.runner
    runner.feed(core.Start())
    await runner.drain()
    runner.feed(core.InterfaceDown("eth0"))  # FAULT: the machine removes the VIPs
    assert not runner.holding
    runner.lost(owned)  # the watcher reports that removal
    await runner.drain()
    assert present.asked == 0
    assert [t.to_role for t in box.transitions] == [core.Role.MASTER, core.Role.FAULT]
    runner.cancel_timers()
