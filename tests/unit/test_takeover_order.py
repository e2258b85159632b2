"""The takeover path: the VIPs are set and announced before the slow ARP watch opens.

Opening the split-brain ARP watch binds a packet socket, which waits for an RCU grace period
in the kernel (8-25 ms). Done at the transition itself it sat between the new master's first
advert and its VIP add, and the clients waited that much longer (the bench's ~20 ms).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from pathlib import Path
from types import SimpleNamespace

from astlinux_ha.config import check_text
from astlinux_ha.instance import InstanceRunner, Shared
from astlinux_ha.net.announce import AnnounceResult
from astlinux_ha.runtime.plan import core_params, plan, receive_params
from astlinux_ha.vrrp import model as core

SEED_BACKUP = Path(__file__).resolve().parents[2] / "etc/keepalived/keepalived.conf.backup"
SOURCE = ipaddress.IPv4Address("10.10.50.65")


class Recorder:
    """Every edge the runner touches, logging what happened in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    # AddressManager
    async def add_vips(self, vips):
        self.events.append("add_vips")
        await asyncio.sleep(0)
        return []

    async def add_routes(self, routes):
        return []

    async def remove_routes(self, routes):
        return []

    async def remove_leftovers(self, vips):
        return []

    async def remove_vips(self, vips):
        self.events.append("remove_vips")
        await asyncio.sleep(0)
        return []

    # Announcer
    async def announce(self, ifname, addrs, repeat):
        self.events.append(f"garp x{repeat}")
        return AnnounceResult(sent=repeat)

    # VrrpSocket
    def send(self, payload, dst=None, src=None, ttl=None):
        self.events.append(f"advert prio {payload[2]}")

    # Notifier
    def notify(self, state, priority):
        self.events.append(f"notify {state}")


class FakeWatcher:
    def __init__(self, ifname, vips, on_claim, events):
        self.ifname, self.vips, self.on_claim, self.events = ifname, set(vips), on_claim, events

    def start(self):
        self.events.append("watch open")

    def probe(self, source):
        return 0

    def close(self):
        self.events.append("watch close")


async def _runner(rec: Recorder) -> InstanceRunner:
    config = check_text(SEED_BACKUP.read_text()).config
    assert config is not None
    inst = config.instances[0]
    p = plan(config, inst, frozenset())
    shared = Shared(addresses=rec, announcer=rec, log=logging.getLogger("test.takeover"),
                    on_transition=lambda name, t, state: rec.events.append(
                        f"transition {t.to_role.value}"),
                    # The ARP watcher factory: the split-brain watch without packet sockets.
                    conflicts=lambda ifname, vips, on_claim: FakeWatcher(ifname, vips, on_claim,
                                                                         rec.events))
    key = SimpleNamespace(mode=SimpleNamespace(name="UNICAST"))
    return InstanceRunner(p, core_params(config, p, SOURCE), receive_params(config, p), rec,
                          key, rec, shared)


async def _taken_over(rec: Recorder) -> InstanceRunner:
    """A runner started as BACKUP whose master-down timer has fired: MASTER, work queued."""
    runner = await _runner(rec)
    runner.feed(core.Start())
    runner.feed(core.TimerExpired(core.Timer.MASTER_DOWN))
    return runner


def test_vips_and_garps_come_before_the_arp_watch():
    asyncio.run(_vips_and_garps_come_before_the_arp_watch())


async def _vips_and_garps_come_before_the_arp_watch():
    rec = Recorder()
    runner = await _runner(rec)
    runner.feed(core.Start())
    await runner.drain()  # the start-up's leftover sweep
    assert runner.state.role is core.Role.BACKUP
    rec.events.clear()
    runner.feed(core.TimerExpired(core.Timer.MASTER_DOWN))  # the master went quiet
    assert runner.state.role is core.Role.MASTER
    # At once: the advert (first, RFC 3768), the journal, the notify. Nothing blocking.
    assert rec.events == ["advert prio 99", "transition MASTER", "notify MASTER"]
    await runner.drain()
    assert rec.events[3:] == ["add_vips", "garp x5", "watch open"]
    runner.cancel_timers()
    assert rec.events[-1] == "watch close"


def test_leaving_master_removes_the_vips_before_closing_the_watch():
    asyncio.run(_leaving_master_removes_the_vips_before_closing_the_watch())


async def _leaving_master_removes_the_vips_before_closing_the_watch():
    rec = Recorder()
    runner = await _taken_over(rec)
    await runner.drain()
    rec.events.clear()
    runner.feed(core.Shutdown())
    assert runner.state.role is not core.Role.MASTER
    await runner.drain()
    assert rec.events.index("remove_vips") < rec.events.index("watch close")
    runner.cancel_timers()
    assert rec.events.count("watch close") == 1


def test_a_watch_from_an_ended_mastership_never_opens():
    asyncio.run(_a_watch_from_an_ended_mastership_never_opens())


async def _a_watch_from_an_ended_mastership_never_opens():
    rec = Recorder()
    runner = await _taken_over(rec)
    runner.feed(core.Shutdown())  # before the loop ran the queued VIP work
    await runner.drain()
    assert "watch open" not in rec.events
    runner.cancel_timers()
