"""use_vmac: the instance's VIPs on a macvlan carrying the RFC's virtual MAC.

What keepalived 2.2.7 builds (seen in the lab, and its vrrp_vmac.c / vrrp_if_config.c): a
macvlan ``vrrp.VRID`` (or the configured name) on the instance's interface, MAC
00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID), up from start to stop, in backup too. On it
arp_ignore=1, accept_local=1, rp_filter=0, promote_secondaries=1; on the base arp_ignore=1 and
arp_filter=1, so only the macvlan answers ARP for the VIPs, with the virtual MAC. An IPv4
instance's macvlan has IPv6 off; an IPv6 one generates no link-local address of its own.
Adverts leave from the macvlan (the virtual MAC as their Ethernet source), or from the base
with ``vmac_xmit_base``; GARPs and NAs leave from the macvlan.

Where we differ, each on purpose:

* mode bridge (keepalived: private), as FRR's docs make theirs. A private macvlan takes every
  multicast frame whose source is its own MAC - the peers' adverts, all from the virtual MAC -
  away from the base, so keepalived has to listen on the macvlan, join the VRRP group there,
  and a backup then sends IGMP/MLD reports from the virtual MAC (keepalived drops IGMP ones
  with an nftables rule), which moves the switch's entry for that MAC to the backup until the
  master's next advert. A bridge macvlan leaves those frames to the base: we listen there, as
  without use_vmac, and the macvlan joins no group. The send socket joins none either; IPv6
  adverts leave from the base's link-local without a copy of it on the macvlan
  (IPV6_FREEBIND), so a backup never answers for it from the virtual MAC (keepalived #2329).
* the base also gets arp_announce=2: an ARP request the master makes for a client then names
  the base's own address, not a VIP, and the client's entry for the VIP keeps the virtual MAC
  (keepalived's says "tell VIP" from the base's MAC: the client moves the VIP there until the
  next GARP, measured in the lab). The base's settings are put back with our last macvlan on
  it (keepalived 2.2.7 leaves arp_ignore=1 / arp_filter=1 behind).

Created inside the running loop (after daemonizing), removed at stop; one a crashed run left
behind is deleted and made anew at start. Nothing raises into the loop: calls return what
failed, for the log.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass, field

from .netlink import Netlink, describe_error
from .pyroute2_lite import NetlinkError
from .vrrp_socket import (
    IP_MTU_DISCOVER,
    IP_MULTICAST_ALL,
    IP_PMTUDISC_DONT,
    IPV6_MULTICAST_ALL,
    SO_BINDTODEVICE,
    VRRP6_CHECKSUM_OFFSET,
    VRRP_GROUP4,
    VRRP_TOS,
    VRRP_TTL,
    Mode,
    SocketKey,
    VrrpSocket,
)

IPV6_FREEBIND = 78
IN6_ADDR_GEN_MODE_NONE = 1
IPPROTO_AH = 51
ENODEV = 19
# The vmac's own settings, and the base's while some vmac sits on it (see the docstring).
VMAC_SYSCTLS = {"arp_ignore": "1", "accept_local": "1", "rp_filter": "0",
                "promote_secondaries": "1"}
BASE_SYSCTLS = {"arp_ignore": "1", "arp_filter": "1", "arp_announce": "2"}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

log = logging.getLogger("astlinux_ha.net.vmac")


def virtual_mac(vrid: int, family: int) -> str:
    """RFC 5798 7.3: 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6."""
    return f"00:00:5e:00:{1 if family == 4 else 2:02x}:{vrid:02x}"


@dataclass(frozen=True)
class VmacSpec:
    """One instance's macvlan: its name, the interface under it, its MAC, the family, and
    whether adverts leave from the base instead (vmac_xmit_base)."""

    ifname: str
    base: str
    mac: str
    family: int
    xmit_base: bool = False


def _sysctl_path(family: int, ifname: str, name: str) -> str:
    return f"/proc/sys/net/ipv{family}/conf/{ifname}/{name}"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _write(path: str, value: str) -> str | None:
    """Write a sysctl; the error text, or None."""
    try:
        with open(path, "w", encoding="ascii") as fh:
            fh.write(value)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None


@dataclass(frozen=True)
class VmacResult:
    """What :meth:`VmacManager.create` did: whether the macvlan is there, and what went
    wrong on the way (a sysctl it could not set, say)."""

    created: bool
    problems: tuple[str, ...] = ()


@dataclass
class VmacManager:
    """Creates and removes the daemon's macvlans through the one netlink channel."""

    netlink: Netlink
    # base interface -> (its sysctls before our first vmac on it, our vmacs on it)
    _saved: dict[str, tuple[dict[str, str | None], set[str]]] = field(default_factory=dict)

    async def create(self, spec: VmacSpec) -> VmacResult:
        """Make ``spec``'s macvlan and bring it up.

        An interface of that name which is a macvlan is a leftover (a crashed run, or
        keepalived's): it is deleted and made anew, so its MAC and base are ours. Any other
        kind of interface is never touched."""
        nl = self.netlink
        base = await nl.ifindex(spec.base)
        if base is None:
            return VmacResult(False, (f"no interface {spec.base} to put {spec.ifname} on",))
        if any(spec.ifname in users for _, users in self._saved.values()):
            # One of our running instances holds it: deleting it would take that one's VIPs.
            return VmacResult(False, (f"{spec.ifname} is in use by another instance",))
        old = await nl.ifindex(spec.ifname)
        if old is not None:
            kind = await self._kind(old)
            if kind != "macvlan":
                return VmacResult(False, (f"{spec.ifname} exists and is not a macvlan "
                                          f"({kind or 'unknown kind'}) - not touching it",))
            log.info("removing leftover VMAC interface %s", spec.ifname)
            try:
                await nl.request("link", "del", index=old, ok=(ENODEV,))
            except NetlinkError as exc:
                return VmacResult(False, (f"cannot delete leftover {spec.ifname}: "
                                          f"{describe_error(exc)}",))
        try:
            await nl.request("link", "add", ifname=spec.ifname, kind="macvlan", link=base,
                             macvlan_mode="bridge", address=spec.mac)
        except NetlinkError as exc:
            return VmacResult(False, (f"cannot create {spec.ifname}: {describe_error(exc)}",))
        index = await nl.ifindex(spec.ifname)
        if index is None:
            return VmacResult(False, (f"{spec.ifname} vanished once created",))
        problems = self._tune(spec)
        try:
            await nl.request("link", "set", index=index, state="up")
        except NetlinkError as exc:
            problems.append(f"cannot bring {spec.ifname} up: {describe_error(exc)}")
        return VmacResult(True, tuple(problems))

    async def remove(self, spec: VmacSpec) -> list[str]:
        """Delete ``spec``'s macvlan (only if it is a macvlan) and, with the last one on its
        base, give the base its sysctls back."""
        problems = self._restore(spec)
        index = await self.netlink.ifindex(spec.ifname)
        if index is None:
            return problems
        if await self._kind(index) != "macvlan":
            return [*problems, f"{spec.ifname} is no longer a macvlan - not deleting it"]
        try:
            await self.netlink.request("link", "del", index=index, ok=(ENODEV,))
        except NetlinkError as exc:
            problems.append(f"cannot delete {spec.ifname}: {describe_error(exc)}")
        return problems

    async def _kind(self, index: int) -> str | None:
        for msg in await self.netlink.dump("link", "dump"):
            if msg["index"] != index:
                continue
            info = msg.get_attr("IFLA_LINKINFO")
            return info.get_attr("IFLA_INFO_KIND") if info is not None else None
        return None

    def _tune(self, spec: VmacSpec) -> list[str]:
        problems: list[str] = []
        for name, value in VMAC_SYSCTLS.items():
            problems += filter(None, [_write(_sysctl_path(4, spec.ifname, name), value)])
        if spec.family == 4:
            # No IPv6 on an IPv4 instance's vmac: nothing (MLD, DAD) leaves from its MAC.
            problems += filter(None, [_write(_sysctl_path(6, spec.ifname, "disable_ipv6"),
                                             "1")])
        else:
            # RFC 5798 7.4: no link-local address of the virtual MAC's own (before it is up).
            problems += filter(None, [_write(_sysctl_path(6, spec.ifname, "addr_gen_mode"),
                                             str(IN6_ADDR_GEN_MODE_NONE))])
        if spec.base not in self._saved:
            self._saved[spec.base] = (
                {n: _read(_sysctl_path(4, spec.base, n)) for n in BASE_SYSCTLS}, set())
        self._saved[spec.base][1].add(spec.ifname)
        for name, value in BASE_SYSCTLS.items():
            problems += filter(None, [_write(_sysctl_path(4, spec.base, name), value)])
        return problems

    def _restore(self, spec: VmacSpec) -> list[str]:
        saved, users = self._saved.get(spec.base, ({}, set()))
        users.discard(spec.ifname)
        if users:
            return []
        self._saved.pop(spec.base, None)
        return [p for name, value in saved.items() if value is not None
                if (p := _write(_sysctl_path(4, spec.base, name), value)) is not None]

    def sender(self, ifname: str, key: SocketKey, group: IPAddress | None) -> VrrpSocket:
        """A send-only VRRP socket on ``ifname`` (OSError passes): the macvlan, for adverts
        that carry the virtual MAC, or the base with vmac_xmit_base (see plan.vmac_sender);
        the instance receives on the base's own socket."""
        return open_sender(ifname, key, group)


def open_sender(ifname: str, key: SocketKey, group: IPAddress | None) -> VrrpSocket:
    """A raw VRRP socket bound to ``ifname`` that joins no group and is never read."""
    index = socket.if_nametoindex(ifname)
    protocol = key.protocol
    sock = socket.socket(key.family, socket.SOCK_RAW, protocol)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, ifname.encode())
        # Never read: keep what the kernel might queue to a minimum.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        if key.family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, VRRP_TOS)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, VRRP_TTL)
            sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            src = key.source.packed if key.source is not None else bytes(4)
            mreqn = (group or VRRP_GROUP4).packed + src + struct.pack("@i", index)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, VRRP_TTL)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            if protocol == IPPROTO_AH:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, VRRP_TOS)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, VRRP6_CHECKSUM_OFFSET)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, VRRP_TTL)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, VRRP_TTL)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            # Sending from the macvlan, the source (the base's link-local) may not be on it.
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
    except BaseException:
        sock.close()
        raise
    sender_key = SocketKey(ifname, key.family, Mode.MULTICAST, key.source, protocol)
    return VrrpSocket(sender_key, sock, index, group)
