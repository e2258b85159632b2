"""Recording stand-ins for every edge the daemon acts through (netlink, raw sockets, ARP,
the state dir, notify FIFOs, track scripts). Each effect becomes one line of text in a named
channel, stamped with the virtual time, so a case's expected output can be read and diffed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from astlinux_ha.net import AddressEvent, LinkEvent, Received, SocketKey
from astlinux_ha.net.addresses import Failure
from astlinux_ha.net.announce import AnnounceResult
from astlinux_ha.net.links import RouteEvent
from astlinux_ha.vrrp import packet

GROUPS = {4: ipaddress.ip_address("224.0.0.18"), 6: ipaddress.ip_address("ff02::12")}


@dataclass
class Channels:
    """Every channel's lines, in the order the effects happened."""

    clock: Callable[[], float]
    lines: dict[str, list[str]] = field(default_factory=dict)

    def add(self, channel: str, text: str) -> None:
        """Record ``text`` on ``channel`` at the current virtual time."""
        self.lines.setdefault(channel, []).append(f"{self.clock():9.3f}  {text}")


def _vip(v: Any) -> str:
    return f"{v.address}/{v.prefixlen} dev {v.ifname}" + (f" label {v.label}" if v.label else "")


def _route(r: Any) -> str:
    text = f"{r.kind} {r.dst}" if r.kind != "unicast" else str(r.dst)
    if r.gateway is not None:
        text += f" via {r.gateway}"
    if r.ifname:
        text += f" dev {r.ifname}"
    return text


class FakeNetlink:
    """Netlink itself: only the interface query the supervisor makes for a source address."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host

    async def dump(self, method: str, *args: Any, **kwargs: Any) -> list[Any]:
        raise AssertionError(f"unexpected netlink dump {method}")

    def close(self) -> None:
        pass


class FakeAddresses:
    """The AddressManager: VIPs and routes as lines on the ``netlink`` channel."""

    def __init__(self, ch: Channels, host: FakeHost) -> None:
        self.ch = ch
        self.host = host

    async def add_vips(self, vips: Iterable[Any]) -> list[Failure]:
        for v in vips:
            self.host.vips.add(v)
            self.ch.add("netlink", f"add address {_vip(v)}")
        return []

    async def remove_vips(self, vips: Iterable[Any]) -> list[Failure]:
        for v in vips:
            if v in self.host.vips:
                self.host.vips.discard(v)
                self.ch.add("netlink", f"del address {_vip(v)}")
        return []

    async def present_vips(self, vips: Iterable[Any]) -> set[Any]:
        return {v for v in vips if v in self.host.vips}

    async def remove_leftovers(self, vips: Sequence[Any]) -> list[Any]:
        gone = [v for v in vips if v in self.host.vips]
        for v in gone:
            self.host.vips.discard(v)
            self.ch.add("netlink", f"del leftover {_vip(v)}")
        return gone

    async def add_routes(self, routes: Iterable[Any]) -> list[Failure]:
        for r in routes:
            self.ch.add("netlink", f"add route {_route(r)}")
        return []

    async def remove_routes(self, routes: Iterable[Any]) -> list[Failure]:
        for r in routes:
            self.ch.add("netlink", f"del route {_route(r)}")
        return []


class FakeAnnouncer:
    """Gratuitous ARP / unsolicited NA bursts, one line per burst."""

    def __init__(self, ch: Channels) -> None:
        self.ch = ch

    async def announce(self, ifname: str, addrs: Sequence[Any], repeat: int) -> AnnounceResult:
        self.ch.add("netlink", f"garp {ifname} {' '.join(map(str, addrs))} x{repeat}")
        return AnnounceResult(sent=repeat * len(addrs))

    def close(self) -> None:
        pass


class FakeSocket:
    """One VRRP socket: each advert sent is decoded onto the ``wire`` channel."""

    def __init__(self, ch: Channels, key: SocketKey) -> None:
        self.ch = ch
        self.key = key

    def send(self, payload: bytes, *, dst: Any = None, src: Any = None,
             ttl: int | None = None) -> None:
        """Decode the advert as a peer would (checksum against the real destination)."""
        to = dst if dst is not None else GROUPS[ipaddress.ip_address(src).version]
        try:
            adv = packet.decode(payload, src, to)
            what = (f"v{adv.version} vrid {adv.vrid} prio {adv.priority} int {adv.interval} "
                    f"{' '.join(map(str, adv.addresses))}")
        except packet.PacketError as exc:
            what = f"{len(payload)} bytes: {exc}"
        self.ch.add("wire", f"{src} > {to} {what}" + (f" ttl {ttl}" if ttl else ""))
        return None


class FakePool:
    """The SocketPool: sockets per key, and the packet callback the case's adverts go to."""

    def __init__(self, ch: Channels, on_packet: Callable[[Received], None]) -> None:
        self.ch = ch
        self.on_packet = on_packet
        self.open: dict[SocketKey, FakeSocket] = {}

    def acquire(self, key: SocketKey, group: Any = None) -> FakeSocket:
        return self.open.setdefault(key, FakeSocket(self.ch, key))

    def release(self, key: SocketKey) -> None:
        self.open.pop(key, None)

    def reopen_interface(self, ifname: str) -> list[SocketKey]:
        return []

    def get(self, key: SocketKey) -> FakeSocket | None:
        return self.open.get(key)

    def close(self) -> None:
        self.open.clear()


@dataclass
class FakeHost:
    """What the box has: links (up or not), addresses, and the VIPs set on it."""

    links: dict[str, bool] = field(default_factory=lambda: {"eth0": True})
    addresses: dict[str, set[tuple[Any, int]]] = field(default_factory=dict)
    vips: set[Any] = field(default_factory=set)
    ifindexes: dict[str, int] = field(default_factory=dict)

    def index(self, ifname: str) -> int:
        return self.ifindexes.setdefault(ifname, len(self.ifindexes) + 2)


class FakeLinks:
    """The LinkWatcher: the host's links, and the callback link/address events go to."""

    def __init__(self, host: FakeHost, on_link: Callable[[Any], None]) -> None:
        self.host = host
        self.on_link = on_link
        self.resyncs = 0

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def event(self, ifname: str) -> LinkEvent:
        up = self.host.links.get(ifname, False)
        return LinkEvent(ifname, self.host.index(ifname), up, up, up,
                         "UP" if up else "DOWN", exists=ifname in self.host.links)

    def link(self, ifname: str) -> LinkEvent | None:
        return self.event(ifname) if ifname in self.host.links else None

    def addresses(self, ifname: str | None) -> set[tuple[Any, int]]:
        if ifname is not None:
            return set(self.host.addresses.get(ifname, set()))
        return set().union(*self.host.addresses.values()) if self.host.addresses else set()

    def set_link(self, ifname: str, up: bool) -> None:
        self.host.links[ifname] = up
        self.on_link(self.event(ifname))

    def set_address(self, ifname: str, address: Any, prefixlen: int, added: bool) -> None:
        have = self.host.addresses.setdefault(ifname, set())
        (have.add if added else have.discard)((address, prefixlen))
        self.on_link(AddressEvent(ifname, self.host.index(ifname), address, prefixlen, added))

    def delete_by_hand(self, ifname: str, address: Any, prefixlen: int) -> None:
        """``ip addr del`` on the box: the address (a VIP, say) is gone without the daemon
        asking, and the watcher reports it."""
        for v in [v for v in self.host.vips if v.address == address and v.ifname == ifname]:
            self.host.vips.discard(v)
        self.set_address(ifname, address, prefixlen, added=False)

    def delete_route_by_hand(self, route: RouteEvent) -> None:
        """``ip route del`` of one of the daemon's (proto keepalived) routes."""
        self.on_link(route)


class FakeStateDir:
    """/var/state/keepalived: the journal on its channel, the last status.json kept."""

    def __init__(self, ch: Channels) -> None:
        self.ch = ch
        self.status: dict[str, Any] | None = None
        self.dumps: dict[str, str] = {}

    def prepare(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def write_status(self, status: dict[str, Any]) -> None:
        self.status = status

    def append_transition(self, record: dict[str, Any]) -> None:
        r = {k: v for k, v in record.items() if k != "time"}
        self.ch.add("journal", " ".join(f"{k}={v}" for k, v in r.items()))

    def write_dump(self, name: str, text: str) -> str:
        self.dumps[name] = text
        return f"/var/state/keepalived/{name}"


class FakeFifo:
    """A notify FIFO: each line written goes to the ``notify`` channel."""

    def __init__(self, ch: Channels, path: str) -> None:
        self.ch = ch
        self.path = path

    async def open(self) -> bool:
        return True

    def write(self, line: str) -> None:
        self.ch.add("notify", line.rstrip("\n"))

    async def close(self, *, grace: float = 0.0) -> None:
        pass


class FakeConflicts:
    """ARP watchers of a master's VIPs; a case's ``claim`` event calls their callback."""

    def __init__(self, ch: Channels) -> None:
        self.ch = ch
        self.live: list[FakeWatcher] = []

    def __call__(self, ifname: str, addrs: Sequence[ipaddress.IPv4Address],
                 callback: Callable[[ipaddress.IPv4Address, str], None]) -> FakeWatcher:
        return FakeWatcher(self, ifname, tuple(addrs), callback)

    def claim(self, vip: ipaddress.IPv4Address, mac: str) -> None:
        for w in list(self.live):
            if vip in w.addrs:
                w.callback(vip, mac)


@dataclass
class FakeWatcher:
    """One open ARP watch."""

    owner: FakeConflicts
    ifname: str
    addrs: tuple[ipaddress.IPv4Address, ...]
    callback: Callable[[ipaddress.IPv4Address, str], None]

    def start(self) -> None:
        self.owner.live.append(self)

    def probe(self, sender: ipaddress.IPv4Address) -> int:
        self.owner.ch.add("netlink", f"arp probe {self.ifname} from {sender}")
        return 1

    def close(self) -> None:
        if self in self.owner.live:
            self.owner.live.remove(self)


class FakeTracks:
    """Track scripts: not run; a case's ``track NAME ok|fail`` event reports for them."""

    def __init__(self) -> None:
        self.live: dict[str, FakeTrack] = {}

    def __call__(self, spec: Any, on_result: Callable[[Any], None], **_: Any) -> FakeTrack:
        return FakeTrack(self, spec, on_result)


@dataclass
class FakeTrack:
    """One vrrp_script's runner."""

    owner: FakeTracks
    spec: Any
    on_result: Callable[[Any], None]

    def start(self) -> None:
        self.owner.live[self.spec.name] = self

    async def stop(self) -> None:
        self.owner.live.pop(self.spec.name, None)


class FakeFirewall:
    """no_accept's drop rules, one ``netlink`` line per change of what an instance drops.

    The start and stop clean-ups (deleting our nft tables) are not recorded: they happen in
    every run, and the real Firewall's scripts for them are unit-tested (test_nftables.py).
    """

    def __init__(self, ch: Channels) -> None:
        self.ch = ch
        self.wanted: dict[str, tuple[Any, ...]] = {}

    async def clean(self) -> None:
        pass

    async def block(self, owner: str, drops: Sequence[Any]) -> None:
        self.wanted[owner] = tuple(drops)
        shown = ", ".join(str(d.address) for d in drops)
        self.ch.add("netlink", f"nft drop {shown} ({owner})")

    async def unblock(self, owner: str) -> None:
        if self.wanted.pop(owner, None) is not None:
            self.ch.add("netlink", f"nft end drop ({owner})")

    async def close(self) -> None:
        self.wanted.clear()


def received(advert: packet.Advert, src: Any, dst: Any, ifname: str, ttl: int = 255) -> Received:
    """A packet as the socket layer hands it to the daemon."""
    return Received(payload=packet.encode(advert, src, dst), src=src, dst=dst, ttl=ttl,
                    ifname=ifname)



class FakeVmacs:
    """use_vmac's VmacManager: each macvlan made or removed is a ``netlink`` line, and the
    adverts sent from one are ``wire`` lines that name it."""

    def __init__(self, ch: Channels) -> None:
        self.ch = ch

    async def create(self, spec: Any) -> Any:
        from astlinux_ha.net.vmac import VmacResult

        self.ch.add("netlink", f"add link {spec.ifname} link {spec.base} type macvlan mode "
                               f"bridge address {spec.mac} up")
        return VmacResult(True)

    async def remove(self, spec: Any) -> list[str]:
        self.ch.add("netlink", f"del link {spec.ifname}")
        return []

    def sender(self, ifname: str, key: SocketKey, group: Any) -> FakeVmacSender:
        return FakeVmacSender(self.ch, key, ifname)


class FakeVmacSender(FakeSocket):
    """The send-only socket on a macvlan."""

    def __init__(self, ch: Channels, key: SocketKey, ifname: str) -> None:
        super().__init__(ch, key)
        self.ifname = ifname

    def send(self, payload: bytes, *, dst: Any = None, src: Any = None,
             ttl: int | None = None) -> None:
        before = len(self.ch.lines.get("wire", []))
        super().send(payload, dst=dst, src=src, ttl=ttl)
        wire = self.ch.lines["wire"]
        if len(wire) > before:
            wire[-1] += f" dev {self.ifname}"

    def close(self) -> None:
        pass
