"""Gratuitous ARP for IPv4 VIPs and unsolicited neighbour advertisements for IPv6 VIPs.

Frames match what keepalived 2.2.7 sends, byte for byte (captured in a namespace):

* GARP: an ARP *request* from the interface's MAC to ff:ff:ff:ff:ff:ff, sender and target IP
  both the VIP, target MAC ff:ff:ff:ff:ff:ff, 42 bytes, no padding.
* NA: to 33:33:00:00:00:01 / ff02::1 *from the VIP itself*, hop limit 255, traffic class 0,
  ICMPv6 136 with Override set, Router set iff IPv6 forwarding is on for the interface, and a
  target link-layer address option.

Messages on one interface are paced by ``vrrp_garp_interval`` (ARP) and ``vrrp_gna_interval``
(NA) across all instances, as keepalived paces them per interface; 0 sends back to back.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
BROADCAST_MAC = b"\xff" * 6
ALL_NODES = ipaddress.IPv6Address("ff02::1")
ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"
ICMPV6_NEIGHBOR_ADVERT = 136
NA_FLAG_ROUTER = 0x80000000
NA_FLAG_OVERRIDE = 0x20000000
ND_OPT_TARGET_LL_ADDR = 2
# Send this many back-to-back frames, then let the loop run timers and packets.
YIELD_EVERY = 64

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

log = logging.getLogger("astlinux_ha.net.announce")


def garp_frame(mac: bytes, vip: ipaddress.IPv4Address) -> bytes:
    """The Ethernet frame of a gratuitous ARP request for ``vip`` from ``mac``."""
    arp = struct.pack(
        "!HHBBH6s4s6s4s",
        1,  # hardware: Ethernet
        0x0800,  # protocol: IPv4
        6,
        4,
        1,  # request
        mac,
        vip.packed,
        BROADCAST_MAC,
        vip.packed,
    )
    return BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP) + arp


def icmpv6_checksum(src: ipaddress.IPv6Address, dst: ipaddress.IPv6Address, data: bytes) -> int:
    """RFC 4443 checksum over the IPv6 pseudo-header and ``data`` (checksum field zeroed)."""
    pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(data), socket.IPPROTO_ICMPV6)
    blob = pseudo + data + (b"\0" if len(data) % 2 else b"")
    total = sum(struct.unpack(f"!{len(blob) // 2}H", blob))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def unsolicited_na_frame(mac: bytes, vip: ipaddress.IPv6Address, router: bool) -> bytes:
    """The Ethernet frame of an unsolicited neighbour advertisement for ``vip`` from ``mac``."""
    flags = NA_FLAG_OVERRIDE | (NA_FLAG_ROUTER if router else 0)
    option = struct.pack("!BB6s", ND_OPT_TARGET_LL_ADDR, 1, mac)
    icmp = struct.pack("!BBHI16s", ICMPV6_NEIGHBOR_ADVERT, 0, 0, flags, vip.packed) + option
    checksum = icmpv6_checksum(vip, ALL_NODES, icmp)
    icmp = icmp[:2] + struct.pack("!H", checksum) + icmp[4:]
    ipv6 = struct.pack(
        "!IHBB16s16s", 6 << 28, len(icmp), socket.IPPROTO_ICMPV6, 255, vip.packed, ALL_NODES.packed
    )
    return ALL_NODES_MAC + mac + struct.pack("!H", ETH_P_IPV6) + ipv6 + icmp


def ipv6_forwarding(ifname: str) -> bool:
    """Whether the interface forwards IPv6 (the NA's Router flag), as keepalived checks."""
    try:
        with open(f"/proc/sys/net/ipv6/conf/{ifname}/forwarding", encoding="ascii") as fh:
            return fh.read().strip() == "1"
    except OSError:
        return False


@dataclass
class AnnounceResult:
    """What one :meth:`Announcer.announce` call did."""

    sent: int = 0
    errors: list[str] = field(default_factory=list)


class Announcer:
    """Sends GARP/NA bursts over AF_PACKET, paced per interface, without blocking the loop."""

    def __init__(self, garp_interval: float = 0.0, gna_interval: float = 0.0) -> None:
        self.garp_interval = garp_interval
        self.gna_interval = gna_interval
        self._next_time: dict[tuple[str, int], float] = {}
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}
        # One packet socket per interface, kept open: closing an AF_PACKET socket waits for an
        # RCU grace period in the kernel (synchronize_net, ~25 ms here), which blocked the
        # loop once per burst: 200 instances becoming MASTER took ~5 s in close() alone.
        self._socks: dict[str, socket.socket] = {}

    def _socket(self, ifname: str) -> socket.socket:
        """The interface's packet socket, opened on first use (OSError if it cannot be)."""
        sock = self._socks.get(ifname)
        if sock is not None:
            return sock
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            sock.setblocking(False)
            sock.bind((ifname, 0))
        except OSError:
            sock.close()
            raise
        self._socks[ifname] = sock
        return sock

    def _forget(self, ifname: str) -> None:
        """Drop the interface's socket (gone or recreated: the next burst opens a new one)."""
        sock = self._socks.pop(ifname, None)
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """Close every cached socket (at shutdown; the announcer stays usable)."""
        for ifname in list(self._socks):
            self._forget(ifname)

    async def announce(
        self, ifname: str, vips: Sequence[IPAddress], repeat: int = 1
    ) -> AnnounceResult:
        """Send ``repeat`` rounds of one GARP/NA per VIP on ``ifname`` (keepalived's order).

        Never raises for network trouble (link down, interface gone): those are counted in the
        result's ``errors`` for the caller to log. Cancel the awaiting task to stop a burst.
        """
        result = AnnounceResult()
        if not vips or repeat <= 0:
            return result
        try:
            sock = self._socket(ifname)
            if _stale(sock, ifname):  # the interface was recreated since the socket was bound
                self._forget(ifname)
                sock = self._socket(ifname)
            mac = sock.getsockname()[4]  # the device's current MAC, read at each call
        except OSError as exc:
            self._forget(ifname)
            result.errors.append(f"{ifname}: {exc.strerror or exc}")
            return result
        router = any(v.version == 6 for v in vips) and ipv6_forwarding(ifname)
        frames = [self._frame(mac, vip, router) for vip in vips]
        for _ in range(repeat):
            for vip, frame in zip(vips, frames, strict=True):
                await self._send_paced(sock, ifname, vip.version, frame, result)
        return result

    @staticmethod
    def _frame(mac: bytes, vip: IPAddress, router: bool) -> bytes:
        if isinstance(vip, ipaddress.IPv4Address):
            return garp_frame(mac, vip)
        return unsolicited_na_frame(mac, vip, router)

    async def _send_paced(
        self, sock: socket.socket, ifname: str, version: int, frame: bytes, result: AnnounceResult
    ) -> None:
        key = (ifname, version)
        interval = self.garp_interval if version == 4 else self.gna_interval
        if interval <= 0:
            self._send(sock, ifname, frame, result)
            if (result.sent + len(result.errors)) % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            wait = self._next_time.get(key, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._send(sock, ifname, frame, result)
            self._next_time[key] = time.monotonic() + interval

    @staticmethod
    def _send(sock: socket.socket, ifname: str, frame: bytes, result: AnnounceResult) -> None:
        try:
            sock.send(frame)
            result.sent += 1
        except OSError as exc:
            result.errors.append(f"{ifname}: {exc.strerror or exc}")


def _stale(sock: socket.socket, ifname: str) -> bool:
    """True when ``sock`` is bound to an index ``ifname`` no longer has (getsockname names
    the bound index's current interface, or fails once it is gone)."""
    try:
        return sock.getsockname()[0] != ifname
    except OSError:
        return True
