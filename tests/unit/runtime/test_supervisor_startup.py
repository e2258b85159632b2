"""What a start (or reload) costs the supervisor per instance (issue 16): each interface is
read once, however many instances run on it, and a fresh read is taken at each reload."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from runtime_fakes import Host, Info, serving, settle

from astlinux_ha.runtime.ports import Edges
from astlinux_ha.supervisor import Runtime
from astlinux_ha.vrrp.tracking import TrackKind, TrackSpec


def instance(name: str, vrid: int, ifname: str) -> str:
    """An instance without unicast_src_ip: its source is read from its interface."""
    return f"""vrrp_instance {name} {{
  state BACKUP
  interface {ifname}
  virtual_router_id {vrid}
  priority 100
  advert_int 1
  virtual_ipaddress {{
    10.10.{vrid}.1 dev {ifname}
  }}
}}
"""


class CountingHost(Host):
    """A fake host that counts the interface reads of the supervisor."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()

    def edges(self) -> Edges:
        edges = super().edges()
        read = edges.interface

        async def interface(netlink: Any, ifname: str) -> Any:
            self.reads[ifname] += 1
            return await read(netlink, ifname)

        return dataclasses.replace(edges, interface=interface)


def test_each_interface_is_read_once_per_start_and_per_reload(tmp_path: Path) -> None:
    text = "".join([*(instance(f"VI_{n}", n, "eth0") for n in range(1, 6)),
                    instance("VI_9", 9, "eth1")])
    host = CountingHost()
    host.link_up("eth0", "eth1")
    host.interfaces["eth0"] = Info(ipaddress.ip_address("10.10.50.62"))
    host.interfaces["eth1"] = Info(ipaddress.ip_address("10.10.60.62"))

    async def go() -> None:
        async with serving(tmp_path, text, host) as d:
            assert len(d.sup.runtime.runners) == 6
            sources = {n: str(r.params.primary_address)
                       for n, r in d.sup.runtime.runners.items()}
            assert sources == {**{f"VI_{n}": "10.10.50.62" for n in range(1, 6)},
                               "VI_9": "10.10.60.62"}
            assert host.reads == {"eth0": 1, "eth1": 1}
            # A reload that restarts every instance reads again: the address may have moved.
            host.interfaces["eth0"] = Info(ipaddress.ip_address("10.10.50.63"))
            await d.reload(text.replace("priority 100", "priority 101"))
            assert host.reads == {"eth0": 2, "eth1": 2}
            assert str(d.runner("VI_3").params.primary_address) == "10.10.50.63"

    asyncio.run(go())


def _runner(*tracks: tuple[TrackKind, str]) -> Any:
    specs = tuple(TrackSpec(kind, name) for kind, name in tracks)
    return SimpleNamespace(params=SimpleNamespace(tracks=specs))


def test_tracking_names_the_instances_of_an_event_and_follows_added_runners() -> None:
    rt = Runtime(cast(Any, None))
    rt.add("A", _runner((TrackKind.INTERFACE, "eth0"), (TrackKind.SCRIPT, "chk")))
    rt.add("B", _runner((TrackKind.INTERFACE, "eth1")))
    assert rt.tracking(TrackKind.INTERFACE, "eth0") == ("A",)
    assert rt.tracking(TrackKind.SCRIPT, "eth0") == ()
    # Added after the index was built (a reload adds its runners one by one): seen at once.
    rt.add("C", _runner((TrackKind.INTERFACE, "eth0"), (TrackKind.INTERFACE, "eth0")))
    assert rt.tracking(TrackKind.INTERFACE, "eth0") == ("A", "C")
    assert rt.tracking(TrackKind.SCRIPT, "chk") == ("A",)


class SlowFirewall:
    """A firewall whose start-up cleanup takes until the test lets it finish."""

    def __init__(self, calls: list[str], release: asyncio.Event) -> None:
        self.calls = calls
        self.release = release

    async def clean(self) -> None:
        self.calls.append("clean")
        await self.release.wait()
        self.calls.append("cleaned")

    async def block(self, owner: str, drops: Any) -> None:
        self.calls.append(f"block {owner}")

    async def unblock(self, owner: str) -> None:
        self.calls.append(f"unblock {owner}")

    async def close(self) -> None:
        self.calls.append("close")


class FirewallHost(Host):
    def __init__(self, firewall: SlowFirewall) -> None:
        super().__init__()
        self.firewall = firewall

    def edges(self) -> Edges:
        return dataclasses.replace(super().edges(), firewall=lambda log: self.firewall)


# With nobody else advertising, master within a few milliseconds; an owner (priority 255)
# would be at once, but it drops nothing.
SOON = """vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 50
  version 3
  advert_int 0.01
  priority 200
  no_accept
  unicast_src_ip 10.10.50.62
  unicast_peer {
    10.10.50.65
  }
  virtual_ipaddress {
    10.10.50.244 dev eth0
  }
}
"""


def test_the_instances_start_while_leftover_rules_go_and_their_rules_wait(tmp_path: Path) -> None:
    calls: list[str] = []

    async def go() -> None:
        release = asyncio.Event()
        host = FirewallHost(SlowFirewall(calls, release))
        host.link_up("eth0")
        host.addresses.add(ipaddress.ip_address("10.10.50.62"))
        async with serving(tmp_path, SOON, host) as d:
            for _ in range(200):
                if d.runner("VI_1").state.role.value == "MASTER":
                    break
                await asyncio.sleep(0.005)
            await settle(20)
            # Started (and master) with the cleanup still running; its rule not yet set.
            assert d.runner("VI_1").state.role.value == "MASTER"
            assert calls == ["clean"]
            release.set()
            await settle(20)
            assert calls == ["clean", "cleaned", "block VI_1"]
        assert calls[-2:] == ["unblock VI_1", "close"]

    asyncio.run(go())


def test_a_stop_during_the_cleanup_waits_for_it_before_closing(tmp_path: Path) -> None:
    calls: list[str] = []

    async def go() -> None:
        release = asyncio.Event()
        host = FirewallHost(SlowFirewall(calls, release))
        host.link_up("eth0")
        host.addresses.add(ipaddress.ip_address("10.10.50.62"))
        async with serving(tmp_path, SOON, host) as d:
            d.sup.request_stop()
            for _ in range(20):
                await asyncio.sleep(0)
            assert "close" not in calls
            release.set()
            await asyncio.wait_for(d.task, 10)
        assert calls.index("cleaned") < calls.index("close")

    asyncio.run(go())
