"""InstanceRunner.update (a reload that changes only the VIPs, issue 14 item 9): the state is
kept, a master swaps its addresses in place and advertises the new list at once; a backup
only takes the new plan."""

from __future__ import annotations

import ipaddress

from test_instance_shell import OURS, PEER, VIP, Box, _config, run

from astlinux_ha.config import check_text
from astlinux_ha.runtime.plan import core_params, plan, receive_params
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.packet import decode

NEW = ipaddress.IPv4Address("10.10.50.246")
SWAPPED = "10.10.50.246 dev eth0\n        10.10.50.247 dev eth0"


def _update(box: Box, vips: str, **kw: object) -> None:
    config = check_text(_config(vips=vips, **kw)).config  # type: ignore[arg-type]
    assert config is not None
    p = plan(config, config.instances[0], frozenset())
    box.runner.update(p, core_params(config, p, OURS), receive_params(config, p))


def test_a_master_swaps_its_vips_in_place_and_advertises_them_at_once():
    run(_master())


async def _master() -> None:
    box = Box(_config(priority=255, state="MASTER"))
    runner = box.runner
    runner.feed(core.Start())
    await runner.drain()
    box.edges.events.clear()
    _update(box, SWAPPED, priority=255, state="MASTER")
    await runner.drain()
    # No transition, no notify: the old VIP goes, the new ones come and are announced.
    assert runner.state.role is core.Role.MASTER
    assert [t.to_role for t in box.transitions] == [core.Role.MASTER]
    assert box.edges.events == ["advert", "remove 10.10.50.244",
                                "add 10.10.50.246,10.10.50.247",
                                "garp eth0 10.10.50.246,10.10.50.247 x5"]
    advert = decode(box.edges.sent[-1][0], OURS, PEER)
    assert advert.addresses == (NEW, ipaddress.IPv4Address("10.10.50.247"))
    assert runner.holding
    # The next advert on the timer lists them too (the advert cache was rebuilt).
    box.clock.advance(box.clock.now + 1.0)
    assert decode(box.edges.sent[-1][0], OURS, PEER).addresses == advert.addresses
    runner.cancel_timers()


def test_a_backup_takes_the_new_vips_without_touching_the_box():
    run(_backup())


async def _backup() -> None:
    box = Box(_config())
    runner = box.runner
    runner.feed(core.Start())
    await runner.drain()
    box.edges.events.clear()
    _update(box, f"{VIP} dev eth0 label eth0:10\n        10.10.50.246 dev eth0")
    await runner.drain()
    assert runner.state.role is core.Role.BACKUP
    assert box.edges.events == []
    assert runner.plan.vips[-1].address == NEW
    runner.cancel_timers()
