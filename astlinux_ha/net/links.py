"""Link, address and route watching through netlink events: no polling.

The watcher binds RTMGRP_LINK and the IPv4/IPv6 address groups, *then* dumps links and
addresses, so a change racing with start-up is seen either in the dump or as a queued event.
Every message carries the object's full state, so applying a queued, older event after the dump
still converges on the truth. Unchanged states are not reported again (RTM_NEWLINK also fires
for statistics, MTU or master changes).

Routes: only the deletion of a route marked ``proto keepalived`` (the virtual_routes the daemon
installs) is reported, so a deleted one can be put back. The route groups also carry every other
route change of the box (a routing daemon's churn): those are dropped at once, on their type and
protocol. A deletion lost to an overflow is not recovered.

When the kernel drops events (the socket's receive buffer overflowed: ENOBUFS) pyroute2's socket
is dead; the watcher opens a new one, binds, dumps again and reports the difference from what
it knew, so the daemon sees the same sequence of states it would have seen, minus transients.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from .interfaces import IFF_LOWER_UP, IFF_UP, if_address_from_msg, link_is_up
from .pyroute2_lite import (
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_IPV6_IFADDR,
    RTMGRP_IPV6_ROUTE,
    RTMGRP_LINK,
    AsyncIPRoute,
    NetlinkError,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

GROUPS = (RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE
          | RTMGRP_IPV6_ROUTE)
# The routes the daemon installs carry this protocol, as keepalived's (addresses.py).
RTPROT_KEEPALIVED = 18
RT_TABLE_MAIN = 254
# rtm_type numbers to the names virtual_routes uses.
ROUTE_TYPES = {1: "unicast", 6: "blackhole", 7: "unreachable", 8: "prohibit"}
# Room for a burst of events (a bridge with many ports going down); overflow is recovered anyway.
DEFAULT_RCVBUF = 1 << 20
# Pause before re-opening after an unexpected error, so a persistent failure cannot spin.
RETRY_DELAY = 0.5

log = logging.getLogger("astlinux_ha.net.links")


@dataclass(frozen=True)
class LinkEvent:
    """An interface's new state. ``exists`` False: deleted (or renamed away from ``ifname``).

    ``up`` is what VRRP cares about: admin up *and* carrier; ``carrier`` is IFF_LOWER_UP alone.
    After a delete and re-create the same ``ifname`` comes back with a new ``ifindex``: sockets
    opened on the old one must be re-opened.
    """

    ifname: str
    ifindex: int
    up: bool
    admin_up: bool
    carrier: bool
    operstate: str
    exists: bool = True


@dataclass(frozen=True)
class AddressEvent:
    """An address appeared on (``added``) or left an interface."""

    ifname: str
    ifindex: int
    address: IPAddress
    prefixlen: int
    added: bool


@dataclass(frozen=True)
class RouteEvent:
    """A ``proto keepalived`` route was deleted: its key fields as the kernel reported them
    (``ifname`` None when it had no output interface, or one not known here)."""

    dst: IPNetwork
    table: int
    kind: str = "unicast"
    gateway: IPAddress | None = None
    ifname: str | None = None
    metric: int | None = None


Event = LinkEvent | AddressEvent | RouteEvent


def route_deleted(msg, ifnames: Callable[[int], str | None]) -> RouteEvent | None:
    """The RouteEvent for an RTM_DELROUTE of one of our routes; None for anything else.

    ``ifnames`` maps an output interface index to its name."""
    if msg.get("proto") != RTPROT_KEEPALIVED or msg.get("event") != "RTM_DELROUTE":
        return None
    family = msg.get("family")
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    dst = msg.get_attr("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET else "::")
    gateway = msg.get_attr("RTA_GATEWAY")
    oif = msg.get_attr("RTA_OIF")
    return RouteEvent(
        dst=ipaddress.ip_network(f"{dst}/{msg.get('dst_len') or 0}", strict=False),
        table=msg.get_attr("RTA_TABLE") or msg.get("table") or RT_TABLE_MAIN,
        kind=ROUTE_TYPES.get(msg.get("type"), str(msg.get("type"))),
        gateway=ipaddress.ip_address(gateway) if gateway else None,
        ifname=ifnames(oif) if oif else None,
        metric=msg.get_attr("RTA_PRIORITY"),
    )


def _link_event(msg) -> LinkEvent:
    flags = msg["flags"]
    return LinkEvent(
        ifname=msg.get("ifname"),
        ifindex=msg["index"],
        up=link_is_up(flags),
        admin_up=bool(flags & IFF_UP),
        carrier=bool(flags & IFF_LOWER_UP),
        operstate=msg.get("operstate") or "UNKNOWN",
    )


def _is_overflow(exc: BaseException) -> bool:
    code = getattr(exc, "code", None) if isinstance(exc, NetlinkError) else getattr(
        exc, "errno", None
    )
    return code == errno.ENOBUFS


class LinkWatcher:
    """Reports link and address changes, and deletions of our routes, to ``on_event`` from
    inside the running loop."""

    def __init__(self, on_event: Callable[[Event], None], rcvbuf: int = DEFAULT_RCVBUF) -> None:
        self._on_event = on_event
        self._rcvbuf = rcvbuf
        self._links: dict[int, LinkEvent] = {}
        self._addrs: dict[int, set[tuple[IPAddress, int]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self.resyncs = 0  # how often events were lost and state re-dumped (for stats)

    async def start(self) -> None:
        """Bind, dump the current state (reported as events), then watch in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="link-watcher")
        synced = asyncio.ensure_future(self._synced.wait())
        await asyncio.wait({synced, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not synced.done():
            synced.cancel()
            self._task.result()  # the watcher died before its first dump: raise why

    async def close(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    # -- queries --------------------------------------------------------------------------------

    def link(self, ifname: str) -> LinkEvent | None:
        """The last known state of ``ifname``, None if it does not exist."""
        for state in self._links.values():
            if state.ifname == ifname:
                return state
        return None

    def addresses(self, ifname: str | None) -> set[tuple[IPAddress, int]]:
        """(address, prefixlen) pairs currently on ``ifname``; on any interface for None
        (an instance without 'interface' owns its source wherever the kernel has it)."""
        if ifname is None:
            return {pair for pairs in self._addrs.values() for pair in pairs}
        state = self.link(ifname)
        return set(self._addrs.get(state.ifindex, ())) if state else set()

    # -- the watch loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            ipr = AsyncIPRoute(rcvbuf=self._rcvbuf)
            try:
                await ipr.bind(GROUPS)
                await self._resync(ipr)
                self._synced.set()
                while True:
                    async for msg in ipr.get():
                        self._handle(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if _is_overflow(exc):
                    self.resyncs += 1
                    log.warning("netlink events lost (receive buffer full): re-reading links")
                else:
                    log.error("link watcher error: %s; re-opening", exc)
                    await asyncio.sleep(RETRY_DELAY)
            finally:
                try:
                    ipr.close()
                except Exception:  # an overflowed pyroute2 socket raises on every access
                    pass

    async def _resync(self, ipr: AsyncIPRoute) -> None:
        links = {msg["index"]: msg async for msg in await ipr.link("dump")}
        addrs: dict[int, set[tuple[IPAddress, int]]] = {}
        for family in (socket.AF_INET, socket.AF_INET6):
            async for msg in await ipr.addr("dump", family=family):
                entry = if_address_from_msg(msg)
                if entry is not None:
                    addrs.setdefault(msg["index"], set()).add((entry.address, entry.prefixlen))
        for index in [i for i in self._links if i not in links]:
            self._link_gone(index)
        for msg in links.values():
            self._link_changed(msg)
        for index in set(self._addrs) | set(addrs):
            known = self._addrs.get(index, set())
            now = addrs.get(index, set())
            for address, prefixlen in sorted(known - now, key=str):
                self._address_changed(index, address, prefixlen, added=False)
            for address, prefixlen in sorted(now - known, key=str):
                self._address_changed(index, address, prefixlen, added=True)

    def _handle(self, msg) -> None:
        kind = msg.get("event")
        if kind in ("RTM_NEWLINK", "RTM_DELLINK"):
            # Bridge port notifications share the group; they are not about the device itself.
            if msg.get("family", socket.AF_UNSPEC) != socket.AF_UNSPEC:
                return
            if kind == "RTM_NEWLINK":
                self._link_changed(msg)
            else:
                self._link_gone(msg["index"])
        elif kind in ("RTM_NEWADDR", "RTM_DELADDR"):
            entry = if_address_from_msg(msg)
            if entry is not None:
                self._address_changed(
                    msg["index"], entry.address, entry.prefixlen, added=kind == "RTM_NEWADDR"
                )
        elif kind == "RTM_DELROUTE":
            event = route_deleted(msg, self._ifname)
            if event is not None:
                self._emit(event)

    def _ifname(self, index: int) -> str | None:
        link = self._links.get(index)
        return link.ifname if link is not None else None

    # -- state bookkeeping, reporting only changes ---------------------------------------------

    def _link_changed(self, msg) -> None:
        state = _link_event(msg)
        old = self._links.get(state.ifindex)
        if old == state:
            return
        if old is not None and old.ifname != state.ifname:
            self._emit(_renamed_away(old))
        self._links[state.ifindex] = state
        self._emit(state)

    def _link_gone(self, index: int) -> None:
        old = self._links.pop(index, None)
        # The kernel reports the addresses' removal too, but not always before the link's.
        for address, prefixlen in sorted(self._addrs.pop(index, set()), key=str):
            if old is not None:
                self._emit(AddressEvent(old.ifname, index, address, prefixlen, added=False))
        if old is not None:
            self._emit(_renamed_away(old))

    def _address_changed(self, index: int, address: IPAddress, prefixlen: int, added: bool) -> None:
        known = self._addrs.setdefault(index, set())
        key = (address, prefixlen)
        if (key in known) == added:
            return
        if added:
            known.add(key)
        else:
            known.discard(key)
        link = self._links.get(index)
        if link is not None:
            self._emit(AddressEvent(link.ifname, index, address, prefixlen, added))

    def _emit(self, event: Event) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("error handling %s", event)


def _renamed_away(old: LinkEvent) -> LinkEvent:
    return LinkEvent(old.ifname, old.ifindex, up=False, admin_up=False, carrier=False,
                     operstate="DELETED", exists=False)
