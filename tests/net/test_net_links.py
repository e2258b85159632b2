"""The link watcher in a namespace: carrier loss at the switch, admin down, addresses,
delete/re-create, de-duplication and recovery from lost events (ENOBUFS)."""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
import time

import pytest

from astlinux_ha.net.links import AddressEvent, LinkEvent, LinkWatcher
from lab.netns import NetnsLoop, Wire, ns_sh, sh

pytestmark = [pytest.mark.root]


class Recorder:
    """Collects events in the watcher's loop; tests wait for a predicate with a deadline."""

    def __init__(self) -> None:
        self.events: list = []
        self.changed = asyncio.Event()

    def __call__(self, event) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait_for(self, predicate, timeout: float = 3.0, since: int = 0):
        """The first event from index ``since`` on that matches ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events[since:]:
                if predicate(event):
                    return event
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching event; saw {self.events}")
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                pass

    def links(self, ifname: str = "eth0") -> list[LinkEvent]:
        return [e for e in self.events if isinstance(e, LinkEvent) and e.ifname == ifname]


@pytest.fixture
def watched():
    wire = Wire()
    try:
        wire.build()
        with NetnsLoop(wire.a) as loop:
            rec = loop.call(Recorder)
            holder: dict[str, LinkWatcher] = {}

            async def start(**kwargs):
                holder["w"] = LinkWatcher(rec, **kwargs)
                await holder["w"].start()
                return holder["w"]

            try:
                yield wire, loop, rec, start
            finally:
                if "w" in holder:
                    loop.run(holder["w"].close)
    finally:
        wire.destroy()


def test_initial_dump_reports_current_state(watched):
    wire, loop, rec, start = watched
    watcher = loop.run(start)
    eth0 = rec.links()[0]
    assert eth0.up and eth0.admin_up and eth0.carrier and eth0.exists
    assert (ipaddress.ip_address(wire.A4), 24) in watcher.addresses("eth0")
    assert watcher.link("eth0") == eth0
    assert watcher.link("nope0") is None


def test_cable_pull_at_the_switch_is_carrier_loss(watched):
    wire, loop, rec, start = watched
    loop.run(start)
    start_down = len(rec.events)
    sh("ip", "-n", wire.sw, "link", "set", "pa", "down")
    down = loop.run(lambda: rec.wait_for(lambda e: isinstance(e, LinkEvent) and not e.up,
                                         since=start_down))
    # Our side is still admin up: only carrier went, which IFF_UP alone would never show.
    assert (down.admin_up, down.carrier) == (True, False)
    assert down.operstate in ("DOWN", "LOWERLAYERDOWN")
    n = len(rec.events)
    sh("ip", "-n", wire.sw, "link", "set", "pa", "up")
    loop.run(lambda: rec.wait_for(lambda e: isinstance(e, LinkEvent) and e.up, since=n))


def test_admin_down_on_our_side(watched):
    wire, loop, rec, start = watched
    loop.run(start)
    ns_sh(wire.a, "ip", "link", "set", "eth0", "down")
    down = loop.run(lambda: rec.wait_for(lambda e: isinstance(e, LinkEvent) and not e.up))
    assert not down.admin_up


def test_address_events_and_no_duplicates(watched):
    wire, loop, rec, start = watched
    loop.run(start)
    before = len(rec.links())
    # MTU changes fire RTM_NEWLINK but change nothing VRRP cares about: no event.
    ns_sh(wire.a, "ip", "link", "set", "eth0", "mtu", "1400")
    ns_sh(wire.a, "ip", "addr", "add", "10.77.0.50/24", "dev", "eth0")
    added = loop.run(lambda: rec.wait_for(lambda e: isinstance(e, AddressEvent) and e.added
                                          and str(e.address) == "10.77.0.50"))
    assert (added.ifname, added.prefixlen) == ("eth0", 24)
    ns_sh(wire.a, "ip", "addr", "del", "10.77.0.50/24", "dev", "eth0")
    loop.run(lambda: rec.wait_for(lambda e: isinstance(e, AddressEvent) and not e.added
                                  and str(e.address) == "10.77.0.50"))
    assert len(rec.links()) == before


def test_interface_deleted_and_recreated(watched):
    wire, loop, rec, start = watched
    loop.run(start)
    old_index = rec.links()[0].ifindex
    ns_sh(wire.a, "ip", "link", "del", "eth0")
    gone = loop.run(lambda: rec.wait_for(lambda e: isinstance(e, LinkEvent) and not e.exists))
    assert gone.ifindex == old_index
    loop.run(lambda: rec.wait_for(lambda e: isinstance(e, AddressEvent) and not e.added
                                  and str(e.address) == wire.A4))
    sh("ip", "-n", wire.sw, "link", "add", "pa", "type", "veth", "peer", "name", "eth0",
       "netns", wire.a)
    sh("ip", "-n", wire.sw, "link", "set", "pa", "master", "br0", "up")
    ns_sh(wire.a, "ip", "link", "set", "eth0", "up")
    back = loop.run(lambda: rec.wait_for(lambda e: isinstance(e, LinkEvent) and e.up
                                         and e.ifname == "eth0" and e.ifindex != old_index))
    assert back.exists


def test_lost_events_are_recovered_by_redumping(watched):
    wire, loop, rec, start = watched
    watcher = loop.run(lambda: start(rcvbuf=4096))
    batch = "".join(f"addr add 10.79.{i // 200}.{i % 200 + 1}/32 dev eth0\n" for i in range(300))

    def flood_while_loop_is_blocked():
        # Runs inside the watcher's loop thread: nothing reads the socket meanwhile.
        subprocess.run(["ip", "-batch", "-"], input=batch, text=True, check=True)

    loop.call(flood_while_loop_is_blocked)

    async def settled():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            count = sum(1 for a, _ in watcher.addresses("eth0") if str(a).startswith("10.79."))
            if count == 300:
                return count
            await asyncio.sleep(0.05)
        return count

    assert loop.run(settled) == 300
    assert watcher.resyncs >= 1
    added = {str(e.address) for e in rec.events if isinstance(e, AddressEvent) and e.added}
    assert {f"10.79.{i // 200}.{i % 200 + 1}" for i in range(300)} <= added
    # And the new socket keeps watching.
    n = len(rec.events)
    sh("ip", "-n", wire.sw, "link", "set", "pa", "down")
    loop.run(lambda: rec.wait_for(lambda e: isinstance(e, LinkEvent) and not e.up, since=n))
