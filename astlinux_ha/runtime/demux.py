"""Which instance an event from the edge goes to.

Packets go by (interface, family, VRID): one shared socket serves every instance on it. Link,
address and track-script events go to every instance that tracks that link, address or
script. Packets no instance takes are counted here (``short packet``, ``unknown vrid``), and
so is each interface's last index, since a re-created link comes back with a new one and the
sockets bound to the old one must be re-opened. A VIP or virtual route deleted from the box
goes to the instance whose own (tracked) item it is.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from astlinux_ha.net import KernelRoute, Vip
from astlinux_ha.net.links import RT_TABLE_MAIN, RouteEvent
from astlinux_ha.runtime.plan import InstancePlan
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.tracking import TrackKind, TrackSpec

# (interface name, 4 or 6, VRID)
IndexKey = tuple[str, int, int]


@dataclass(frozen=True)
class Route:
    """Where one packet goes: to ``target``, or nowhere; ``unknown_vrid`` is set when it was
    counted as a VRID we do not run (and may be logged as such)."""

    target: str | None = None
    unknown_vrid: int | None = None


def family(address_family: int) -> int:
    """4 or 6 for a socket's AF_INET / AF_INET6."""
    return 4 if address_family == socket.AF_INET else 6


class Demux:
    """The packet index, the counters of packets for no instance, and the link indexes."""

    def __init__(self) -> None:
        self.index: dict[IndexKey, str] = {}
        self.counters: dict[str, int] = {}
        self._ifindexes: dict[str, int] = {}

    def reindex(self, entries: Iterable[tuple[str, str, int, int]]) -> None:
        """Index the running instances: (name, interface, AF_INET or AF_INET6, VRID) each."""
        self.index = {(ifname, family(af), vrid): name for name, ifname, af, vrid in entries}

    def packet(self, ifname: str, version: int, payload: bytes) -> Route:
        """Route a packet received on ``ifname`` from an IPv``version`` source."""
        if len(payload) < 2:
            self._count("short packet")
            return Route()
        target = self.index.get((ifname, version, payload[1]))
        if target is not None:
            return Route(target)
        if not ifname:
            # An unbound socket (an instance without 'interface') hears every VRRP packet;
            # one for another VRID is the bound sockets' to count.
            return Route()
        self._count("unknown vrid")
        return Route(unknown_vrid=payload[1])

    def _count(self, what: str) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1

    def ifindex_changed(self, ifname: str, ifindex: int, exists: bool) -> bool:
        """Record a link event; True when ``ifname`` came back with another index than the
        one last seen (its sockets must be re-opened)."""
        before = self._ifindexes.get(ifname)
        if not exists:
            # Keep the old index: the re-created link comes back with a new one, and the
            # sockets still bound to the old one must then be re-opened.
            return False
        self._ifindexes[ifname] = ifindex
        return before is not None and before != ifindex


def tracking(tracks: Mapping[str, Iterable[TrackSpec]], kind: TrackKind,
             name: str) -> tuple[str, ...]:
    """The instances (``tracks``: name to what it tracks) that track ``kind`` ``name``."""
    return tuple(inst for inst, specs in tracks.items()
                 if any(t.kind is kind and t.name == name for t in specs))


def link_event(ifname: str, up: bool) -> core.Event:
    """The core's event for a tracked link going up or down."""
    return core.InterfaceUp(ifname) if up else core.InterfaceDown(ifname)


def address_event(address: core.IPAddress, added: bool) -> core.Event:
    """The core's event for a tracked source address added or removed."""
    return core.SourceAddress(address, added)


def track_event(name: str, up: bool) -> core.Event:
    """The core's event for a track script's new status."""
    return core.TrackResult(name, up)


@dataclass(frozen=True)
class Owned:
    """A deleted VIP or route that instance ``name`` put there: ``item`` is what it re-sets,
    ``what`` names it for the log (``VIP 10.10.50.244``)."""

    name: str
    item: Vip | KernelRoute
    what: str


def vip_owners(plans: Mapping[str, InstancePlan], ifname: str,
               address: core.IPAddress) -> tuple[Owned, ...]:
    """The instances (``plans``: name to plan) whose tracked VIP or excluded VIP is
    ``address`` on ``ifname``: a ``no_track`` one is nobody's to put back."""
    out = []
    for name, p in plans.items():
        lines = (*p.config.virtual_ipaddresses, *p.config.virtual_ipaddresses_excluded)
        for line, vip in zip(lines, (*p.vips, *p.excluded), strict=True):
            if vip.address == address and vip.ifname == ifname and not line.no_track:
                out.append(Owned(name, vip, f"VIP {address}"))
    return tuple(out)


def route_owners(plans: Mapping[str, InstancePlan], event: RouteEvent) -> tuple[Owned, ...]:
    """The instances whose tracked virtual route the deleted route ``event`` is: the same
    destination, table and type, and the gateway, device and metric the config names."""
    out = []
    for name, p in plans.items():
        for line, route in zip(p.config.virtual_routes, p.routes, strict=True):
            if not line.no_track and _same_route(route, event):
                out.append(Owned(name, route, f"route {route}"))
    return tuple(out)


def _same_route(route: KernelRoute, event: RouteEvent) -> bool:
    return (route.dst == event.dst
            and (route.table or RT_TABLE_MAIN) == event.table
            and route.kind == event.kind
            and route.gateway in (None, event.gateway)
            and route.ifname in (None, event.ifname)
            and route.metric in (None, event.metric))


def deleted_event(owned: Owned) -> core.Event:
    """The core's event for one of an instance's own VIPs or routes deleted from the box."""
    return core.VirtualDeleted(owned.what)
