"""Virtual IP addresses and virtual routes, set and removed through netlink.

Every operation is idempotent, as keepalived's are: adding what is there (EEXIST) and removing
what is gone (EADDRNOTAVAIL, ESRCH) are successes. Other failures (no such interface, a bad
gateway) are logged by the caller from the returned :class:`Failure` list and never raised, so
one bad VIP cannot stop the others from being set.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .interfaces import IFA_F_NODAD, IFA_F_NOPREFIXROUTE, if_address_from_msg
from .netlink import Netlink, describe_error
from .pyroute2_lite import NetlinkError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# keepalived marks its routes "proto keepalived" (RTPROT_KEEPALIVED); deleting with it set
# never touches an admin's identical static route.
RTPROT_KEEPALIVED = 18

# Names keepalived and iproute2 accept for ``scope`` (/etc/iproute2/rt_scopes).
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}

log = logging.getLogger("astlinux_ha.net.addresses")


def scope_id(scope: int | str) -> int:
    """Map a scope name (or number as text) to its number; ValueError if unknown."""
    if isinstance(scope, int):
        return scope
    if scope in SCOPES:
        return SCOPES[scope]
    return int(scope)


@dataclass(frozen=True)
class Vip:
    """One ``virtual_ipaddress`` line, resolved: ``10.10.50.244/32 dev eth0 label eth0:10``.

    ``broadcast`` is the address itself (``brd +`` is computed by the config layer with
    :func:`broadcast_for`); ``scope`` is numeric (:func:`scope_id`).
    """

    address: IPAddress
    prefixlen: int
    ifname: str
    broadcast: ipaddress.IPv4Address | None = None
    scope: int = 0
    label: str | None = None
    nodad: bool = False
    noprefixroute: bool = False

    @property
    def family(self) -> int:
        """AF_INET or AF_INET6."""
        return socket.AF_INET if self.address.version == 4 else socket.AF_INET6

    def __str__(self) -> str:
        text = f"{self.address}/{self.prefixlen} dev {self.ifname}"
        return text + (f" label {self.label}" if self.label else "")


def broadcast_for(address: ipaddress.IPv4Address, prefixlen: int) -> ipaddress.IPv4Address:
    """The subnet broadcast address (keepalived's ``brd +``)."""
    return ipaddress.IPv4Network(f"{address}/{prefixlen}", strict=False).broadcast_address


@dataclass(frozen=True)
class KernelRoute:
    """One ``virtual_routes`` line: ``DST [via GW] [dev IF] [src IP] [metric N] [table T]``.

    ``kind`` is ``unicast`` or one of ``blackhole``, ``unreachable``, ``prohibit`` (no gateway
    or device then).
    """

    dst: IPNetwork
    gateway: IPAddress | None = None
    ifname: str | None = None
    src: IPAddress | None = None
    metric: int | None = None
    table: int | None = None
    scope: int | None = None
    kind: str = "unicast"
    onlink: bool = False

    def __str__(self) -> str:
        parts = [self.kind] if self.kind != "unicast" else []
        parts.append(str(self.dst))
        for word, value in (("via", self.gateway), ("dev", self.ifname), ("src", self.src),
                            ("metric", self.metric), ("table", self.table)):
            if value is not None:
                parts += [word, str(value)]
        return " ".join(parts)


@dataclass(frozen=True)
class Failure:
    """An operation that did not happen, and why (for the log)."""

    item: Vip | KernelRoute
    reason: str


class AddressManager:
    """Adds and removes VIPs and virtual routes on the host (all async, never blocking)."""

    def __init__(self, nl: Netlink) -> None:
        self._nl = nl

    async def add_vips(self, vips: Iterable[Vip]) -> list[Failure]:
        """Make every VIP present; return the ones that could not be added."""
        failures = []
        for vip in vips:
            try:
                index = await self._index(vip.ifname)
                await self._nl.request("addr", "add", ok=(errno.EEXIST,), **_addr_args(vip, index))
            except (NetlinkError, OSError, LookupError) as exc:
                failures.append(Failure(vip, describe_error(exc)))
        return failures

    async def remove_vips(self, vips: Iterable[Vip]) -> list[Failure]:
        """Make every VIP absent; a VIP (or interface) already gone is not a failure."""
        failures = []
        for vip in vips:
            index = await self._nl.ifindex(vip.ifname)
            if index is None:
                continue  # the interface went away and took the address with it
            try:
                await self._nl.request(
                    "addr", "del", ok=(errno.EADDRNOTAVAIL, errno.ENODEV),
                    index=index, address=str(vip.address), prefixlen=vip.prefixlen,
                )
            except (NetlinkError, OSError) as exc:
                failures.append(Failure(vip, describe_error(exc)))
        return failures

    async def present_vips(self, vips: Iterable[Vip]) -> set[Vip]:
        """Those of ``vips`` that are on their interface now (address and prefix length)."""
        wanted = list(vips)
        present: set[Vip] = set()
        onhost: dict[str, set[tuple[IPAddress, int]]] = {}
        for ifname in {vip.ifname for vip in wanted}:
            index = await self._nl.ifindex(ifname)
            if index is None:
                onhost[ifname] = set()
                continue
            entries = set()
            for msg in await self._nl.dump("get_addr", index=index):
                entry = if_address_from_msg(msg)
                if entry is not None:
                    entries.add((entry.address, entry.prefixlen))
            onhost[ifname] = entries
        for vip in wanted:
            if (vip.address, vip.prefixlen) in onhost[vip.ifname]:
                present.add(vip)
        return present

    async def remove_leftovers(self, vips: Sequence[Vip]) -> list[Vip]:
        """At start-up, remove configured VIPs a crashed run left behind; return those removed.

        keepalived does the same: every instance starts as BACKUP, so no VIP may be held yet.
        """
        leftovers = await self.present_vips(vips)
        ordered = [vip for vip in vips if vip in leftovers]
        for failure in await self.remove_vips(ordered):
            log.warning("cannot remove leftover VIP %s: %s", failure.item, failure.reason)
        return ordered

    async def add_routes(self, routes: Iterable[KernelRoute]) -> list[Failure]:
        """Install every route; an identical route already there is not a failure."""
        failures = []
        for route in routes:
            try:
                args = await self._route_args(route)
                await self._nl.request("route", "add", ok=(errno.EEXIST,), **args)
            except (NetlinkError, OSError, LookupError) as exc:
                failures.append(Failure(route, describe_error(exc)))
        return failures

    async def remove_routes(self, routes: Iterable[KernelRoute]) -> list[Failure]:
        """Remove every route; one already gone (ESRCH) is not a failure."""
        failures = []
        for route in routes:
            try:
                args = await self._route_args(route)
            except LookupError:
                continue  # its interface is gone, and its routes with it
            try:
                await self._nl.request("route", "del", ok=(errno.ESRCH, errno.ENODEV), **args)
            except (NetlinkError, OSError) as exc:
                failures.append(Failure(route, describe_error(exc)))
        return failures

    async def _index(self, ifname: str) -> int:
        index = await self._nl.ifindex(ifname)
        if index is None:
            raise LookupError(f"no interface {ifname}")
        return index

    async def _route_args(self, route: KernelRoute) -> dict[str, object]:
        args: dict[str, object] = {
            "dst": str(route.dst),
            "family": socket.AF_INET if route.dst.version == 4 else socket.AF_INET6,
            "proto": RTPROT_KEEPALIVED,
        }
        if route.kind != "unicast":
            args["type"] = route.kind
        if route.gateway is not None:
            args["gateway"] = str(route.gateway)
        if route.ifname is not None:
            args["oif"] = await self._index(route.ifname)
        if route.src is not None:
            args["prefsrc"] = str(route.src)
        if route.metric is not None:
            args["priority"] = route.metric
        if route.table is not None:
            args["table"] = route.table
        if route.scope is not None:
            args["scope"] = route.scope
        if route.onlink:
            args["flags"] = ["onlink"]
        return args


def _addr_args(vip: Vip, index: int) -> dict[str, object]:
    args: dict[str, object] = {
        "index": index,
        "address": str(vip.address),
        "prefixlen": vip.prefixlen,
        "scope": vip.scope,
    }
    if vip.broadcast is not None:
        args["broadcast"] = str(vip.broadcast)
    if vip.label:
        args["label"] = vip.label
    flags = (IFA_F_NODAD if vip.nodad else 0) | (IFA_F_NOPREFIXROUTE if vip.noprefixroute else 0)
    if flags:
        args["flags"] = flags
    return args
