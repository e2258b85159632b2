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


class ConflictWatcher:
    """Reports ARP claims on ``vips`` from any MAC but ``ifname``'s own, until :meth:`close`.

    ``on_claim(vip, mac)`` is called from the loop for every such frame; the caller rate-limits.
    """

    def __init__(
        self,
        ifname: str,
        vips: Iterable[ipaddress.IPv4Address],
        on_claim: Callable[[ipaddress.IPv4Address, str], None],
    ) -> None:
        self.ifname = ifname
        self.vips = frozenset(vips)
        self._on_claim = on_claim
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.mac = b""

    def start(self) -> None:
        """Open the packet socket on the interface and watch. Raises OSError if it cannot."""
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        try:
            sock.setblocking(False)
            sock.bind((self.ifname, ETH_P_ARP))
            self.mac = sock.getsockname()[4]
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    def probe(self, sender: ipaddress.IPv4Address) -> int:
        """Ask once for each VIP from ``sender`` (our own address); a holder answers.

        Returns the number of requests sent; send errors (link down) are not the caller's
        business here, the next takeover probes again.
        """
        if self._sock is None:
            return 0
        sent = 0
        for vip in sorted(self.vips):
            try:
                self._sock.send(arp_request_frame(self.mac, sender, vip))
                sent += 1
            except OSError:
                pass
        return sent

    def _readable(self) -> None:
        assert self._sock is not None
        for _ in range(64):  # bounded: an ARP flood must not starve the loop
            try:
                frame, addr = self._sock.recvfrom(2048)
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
            if ip in self.vips and mac != self.mac:
                self._on_claim(ip, format_mac(mac))

    def close(self) -> None:
        """Stop watching (idempotent)."""
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
