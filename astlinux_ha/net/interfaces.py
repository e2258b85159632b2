"""What the daemon needs to know about one interface: index, MAC, carrier and its addresses.

The primary IPv4 address is what keepalived sends adverts from when no ``unicast_src_ip`` /
``mcast_src_ip`` is given; IPv6 adverts leave from the link-local address (RFC 5798 5.1.1.1).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass

from .netlink import Netlink

IFF_UP = 0x1
IFF_RUNNING = 0x40
IFF_LOWER_UP = 0x10000

IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40
IFA_F_NOPREFIXROUTE = 0x200

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def link_is_up(flags: int) -> bool:
    """Usable for VRRP: admin up and carrier (IFF_RUNNING is operstate UP or UNKNOWN).

    IFF_UP alone is only the admin state; a pulled cable clears IFF_LOWER_UP and IFF_RUNNING.
    keepalived tests IFF_UP|IFF_RUNNING; we also require IFF_LOWER_UP, which the kernel keeps
    in step with carrier.
    """
    wanted = IFF_UP | IFF_RUNNING | IFF_LOWER_UP
    return flags & wanted == wanted


@dataclass(frozen=True)
class IfAddress:
    """One address on an interface, in the kernel's order."""

    address: IPAddress
    prefixlen: int
    flags: int
    scope: int
    label: str | None

    @property
    def usable(self) -> bool:
        """Past DAD: a source address the kernel will actually send from."""
        return not self.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)


@dataclass(frozen=True)
class InterfaceInfo:
    """A snapshot of one interface."""

    ifname: str
    ifindex: int
    mac: bytes
    flags: int
    operstate: str
    addresses: tuple[IfAddress, ...]

    @property
    def up(self) -> bool:
        """Admin up with carrier (see :func:`link_is_up`)."""
        return link_is_up(self.flags)

    def primary_ipv4(self, exclude: Collection[IPAddress] = ()) -> ipaddress.IPv4Address | None:
        """The first non-secondary IPv4 address, skipping ``exclude`` (our own VIPs)."""
        for entry in self.addresses:
            if (
                isinstance(entry.address, ipaddress.IPv4Address)
                and not entry.flags & IFA_F_SECONDARY
                and entry.address not in exclude
            ):
                return entry.address
        return None

    def link_local_ipv6(self) -> ipaddress.IPv6Address | None:
        """The usable fe80:: address, if any."""
        for entry in self.addresses:
            if (
                isinstance(entry.address, ipaddress.IPv6Address)
                and entry.address.is_link_local
                and entry.usable
            ):
                return entry.address
        return None

    def global_ipv6(self, exclude: Collection[IPAddress] = ()) -> ipaddress.IPv6Address | None:
        """The first usable non-link-local IPv6 address, skipping ``exclude``."""
        for entry in self.addresses:
            if (
                isinstance(entry.address, ipaddress.IPv6Address)
                and not entry.address.is_link_local
                and entry.usable
                and entry.address not in exclude
            ):
                return entry.address
        return None

    def has_address(self, address: IPAddress) -> bool:
        """Whether ``address`` is configured here (tentative IPv6 included)."""
        return any(entry.address == address for entry in self.addresses)


def _mac_bytes(text: str | None) -> bytes:
    if not text:
        return b""
    return bytes(int(part, 16) for part in text.split(":"))


def if_address_from_msg(msg) -> IfAddress | None:
    """Turn a pyroute2 RTM_NEWADDR/RTM_DELADDR message into an :class:`IfAddress`."""
    text = msg.get("address") or msg.get("local")
    if text is None:
        return None
    flags = msg.get_attr("IFA_FLAGS")
    return IfAddress(
        address=ipaddress.ip_address(text),
        prefixlen=msg["prefixlen"],
        flags=flags if flags is not None else msg["flags"],
        scope=msg["scope"],
        label=msg.get("label"),
    )


async def get_interface(nl: Netlink, ifname: str) -> InterfaceInfo | None:
    """Read ``ifname``'s index, MAC, flags, operstate and addresses; None if it does not exist."""
    index = await nl.ifindex(ifname)
    if index is None:
        return None
    # A dump, not get_links(index): that is a netlink 'get' (see Netlink.ifindex).
    links = [link for link in await nl.dump("link", "dump") if link["index"] == index]
    if not links:
        return None
    link = links[0]
    addresses = []
    for family in (socket.AF_INET, socket.AF_INET6):
        for msg in await nl.dump("get_addr", family=family, index=index):
            entry = if_address_from_msg(msg)
            if entry is not None:
                addresses.append(entry)
    return InterfaceInfo(
        ifname=ifname,
        ifindex=index,
        mac=_mac_bytes(link.get("address")),
        flags=link["flags"],
        operstate=link.get("operstate") or "UNKNOWN",
        addresses=tuple(addresses),
    )
