"""A reload in place that lands while a new master is still setting its VIPs (the add is on
the netlink chain, ``holding`` not yet true): the swap must still happen, or the box keeps
the old VIPs and announces new ones it never sets."""

from __future__ import annotations

import asyncio
from typing import Any

from test_instance_shell import Box, _config, run
from test_instance_update import SWAPPED, _update

from astlinux_ha.vrrp import model as core


def test_an_update_during_the_masters_vip_add_still_swaps_the_vips():
    run(_during_add())


async def _during_add() -> None:
    box = Box(_config(priority=255, state="MASTER"))
    runner = box.runner
    gate = asyncio.Event()
    record = box.edges.add_vips
    held: set[str] = set()

    async def slow_add(vips: list[Any]) -> list[Any]:
        result = await record(vips)
        await gate.wait()  # a big VIP set, or the no_accept rule ahead of it
        held.update(str(v.address) for v in vips)
        return result

    async def remove(vips: list[Any]) -> list[Any]:
        held.difference_update(str(v.address) for v in vips)
        return []

    box.edges.add_vips = slow_add  # type: ignore[method-assign]
    box.edges.remove_vips = remove  # type: ignore[method-assign]
    runner.feed(core.Start())
    while "add 10.10.50.244" not in box.edges.events:
        await asyncio.sleep(0)
    assert runner.state.role is core.Role.MASTER and not runner.holding
    _update(box, SWAPPED, priority=255, state="MASTER")
    gate.set()
    await runner.drain()
    assert held == {"10.10.50.246", "10.10.50.247"}
    assert runner.holding
    runner.cancel_timers()
