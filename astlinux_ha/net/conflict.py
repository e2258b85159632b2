"""Seeing another holder of our VIPs on the wire: split brain while VRRP itself is blocked.

When VRRP between two boxes is dropped (a firewall without the seed's multicast rule, a switch
ACL) neither hears the other's adverts, both become MASTER and both hold the VIP (the seed's
warning). The VRRP packets cannot tell them, but ARP still flows, and ARP shows it:

* the box that takes over sends gratuitous ARPs for the VIP: the other master, watching ARP
  while it is MASTER, sees its own VIP claimed from a foreign MAC;
* the box that took over asks once "who has VIP?" from its own address (:meth:`probe`): the
  other master's kernel answers from its MAC.

So both sides learn of it within one advert interval, and each logs ``split brain``. Only
IPv4 (ARP) is watched; IPv6 VIPs rely on the advert-based detection of the VRRP core.

The watcher only reads and reports; what counts as a split brain (still MASTER a moment later,
not just the other side of a normal handover) is the instance's decision.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
from collections.abc import Callable, Iterable

from .announce import BROADCAST_MAC, ETH_P_ARP

PACKET_OUTGOING = 4  # sll_pkttype of frames we sent ourselves
_ETH_HEADER = 14
_ARP = struct.Struct("!HHBBH6s4s6s4s")
ARP_REQUEST, ARP_REPLY = 1, 2


def format_mac(mac: bytes) -> str:
    """``02:00:0a:0a:32:3e`` style."""
    return ":".join(f"{b:02x}" for b in mac)


def arp_request_frame(
    mac: bytes, sender: ipaddress.IPv4Address, target: ipaddress.IPv4Address
) -> bytes:
    """A broadcast "who has ``target``? tell ``sender``" from ``mac``."""
    arp = _ARP.pack(1, 0x0800, 6, 4, ARP_REQUEST, mac, sender.packed, b"\0" * 6, target.packed)
    return BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP) + arp


def parse_arp_claim(frame: bytes) -> tuple[ipaddress.IPv4Address, bytes] | None:
    """(sender IP, sender MAC) of an Ethernet/IPv4 ARP request or reply, else None.

    Whoever sends an ARP message with sender IP X says "X is at my MAC": a claim on X.
    """
    if len(frame) < _ETH_HEADER + _ARP.size:
        return None
    htype, ptype, hlen, plen, op, sha, spa, _tha, _tpa = _ARP.unpack_from(frame, _ETH_HEADER)
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4) or op not in (ARP_REQUEST, ARP_REPLY):
        return None
    return ipaddress.IPv4Address(spa), sha


class _ArpTap:
    """One ARP packet socket per interface, shared by every watcher on it.

    Binding an ETH_P_ARP socket registers a packet hook and closing it waits for an RCU grace
    period (synchronize_net): one socket per MASTER instance cost ~14 ms each, blocking the
    loop (200 instances: ~3 s), and every ARP frame was copied to each of them.
    """

    _open: dict[str, _ArpTap] = {}

    def __init__(self, ifname: str) -> None:
        # Protocol 0 at socket() and ETH_P_ARP at bind(): a socket opened with a protocol
        # hooks every interface at once, and bind() then unhooks it with synchronize_net,
        # blocking the loop 8-25 ms at each takeover; bound this way it hooks once, at no cost.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            sock.setblocking(False)
            sock.bind((ifname, ETH_P_ARP))
            self.mac: bytes = sock.getsockname()[4]
        except OSError:
            sock.close()
            raise
        self.ifname = ifname
        self.sock = sock
        self.watchers: list[ConflictWatcher] = []
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(sock.fileno(), self._readable)

    @classmethod
    def acquire(cls, ifname: str, watcher: ConflictWatcher) -> _ArpTap:
        """The open tap on ``ifname`` (a new one if none, or if the interface was recreated
        or the loop changed), with ``watcher`` registered. Raises OSError if it cannot."""
        tap = cls._open.get(ifname)
        if tap is None or tap._stale():
            tap = cls(ifname)
            cls._open[ifname] = tap
        tap.watchers.append(watcher)
        return tap

    def release(self, watcher: ConflictWatcher) -> None:
        """Unregister ``watcher``; the last one out closes the socket."""
        if watcher in self.watchers:
            self.watchers.remove(watcher)
        if self.watchers:
            return
        if self._open.get(self.ifname) is self:
            del self._open[self.ifname]
        if not self.loop.is_closed():
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _stale(self) -> bool:
        try:
            loop = asyncio.get_running_loop()
            return loop is not self.loop or self.sock.getsockname()[0] != self.ifname
        except OSError:
            return True

    def _readable(self) -> None:
        for _ in range(64):  # bounded: an ARP flood must not starve the loop
            try:
                frame, addr = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            claim = parse_arp_claim(frame)
            if claim is None:
                continue
            ip, mac = claim
            if mac == self.mac:
                continue
            for watcher in list(self.watchers):
                if ip in watcher.vips:
                    watcher._on_claim(ip, format_mac(mac))


class ConflictWatcher:
    """Reports ARP claims on ``vips`` from any MAC but ``ifname``'s own, until :meth:`close`.

    ``on_claim(vip, mac)`` is called from the loop for every such frame; the caller rate-limits.
    Watchers on one interface share one packet socket (see :class:`_ArpTap`).
    """

    def __init__(self, ifname: str, vips: Iterable[ipaddress.IPv4Address],
                 on_claim: Callable[[ipaddress.IPv4Address, str], None]) -> None:
        self.ifname = ifname
        self.vips = frozenset(vips)
        self._on_claim = on_claim
        self._tap: _ArpTap | None = None
        self.mac = b""

    def start(self) -> None:
        """Watch the interface's ARP traffic. Raises OSError if it cannot."""
        self._tap = _ArpTap.acquire(self.ifname, self)
        self.mac = self._tap.mac

    def probe(self, sender: ipaddress.IPv4Address) -> int:
        """Ask once for each VIP from ``sender`` (our own address); a holder answers.

        Returns the number of requests sent; send errors (link down) are not the caller's
        business here, the next takeover probes again.
        """
        if self._tap is None:
            return 0
        sent = 0
        for vip in sorted(self.vips):
            try:
                self._tap.sock.send(arp_request_frame(self.mac, sender, vip))
                sent += 1
            except OSError:
                pass
        return sent

    def close(self) -> None:
        """Stop watching (idempotent)."""
        if self._tap is not None:
            self._tap.release(self)
            self._tap = None
