"""Raw IP-protocol-112 sockets carrying VRRP adverts, IPv4 and IPv6, multicast and unicast.

An IPv4 instance with ``auth_type AH`` gets a protocol-51 socket instead (``SocketKey.protocol``):
keepalived builds the whole IP header of an AH advert itself, so it is sent with IP_HDRINCL,
and received datagrams are split into IP header, AH header and VRRP message. Such a socket
also listens on protocol 112, so plain adverts aimed at an AH instance are seen and counted as
an auth type mismatch rather than never reaching the daemon.

One :class:`VrrpSocket` serves every instance on the same (interface, family, mode, source): the
caller dispatches received packets by VRID, as keepalived does. The socket never raises into the
event loop: receive errors are logged and skipped, send errors are returned to the caller.

Wire details copied from what keepalived 2.2.7 puts on the wire (captured in a namespace):
IPv4 TOS / IPv6 traffic class 0xC0, TTL / hop limit 255, no DF bit, IPv6 source link-local.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from astlinux_ha.vrrp.ah import IPPROTO_AH, AhError, AhPacket, split

IPPROTO_VRRP = 112
VRRP_GROUP4 = ipaddress.IPv4Address("224.0.0.18")
VRRP_GROUP6 = ipaddress.IPv6Address("ff02::12")
VRRP_TOS = 0xC0
VRRP_TTL = 255
# The IPv6 VRRP checksum sits at byte 6 of the payload; with IPV6_CHECKSUM the kernel fills it
# on send and drops bad ones on receive, as keepalived asks it to.
VRRP6_CHECKSUM_OFFSET = 6

# Linux constants the socket module of Python 3.11 does not export.
IP_PKTINFO = 8
IP_MTU_DISCOVER = 10
IP_PMTUDISC_DONT = 0
IP_MULTICAST_ALL = 49
IPV6_MULTICAST_ALL = 29
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)

# Enough for a VRRP packet with 255 IPv6 addresses plus headers, with room to spare.
RECV_BUFSIZE = 9000
ANCILLARY_BUFSIZE = 256
# Packets read per readiness callback: bounded so a flood cannot starve the loop's timers.
RECV_BATCH = 32
# Send envelopes kept per socket: one per (source, destination, TTL) in use, a handful
# normally; a bound, since a socket can serve many unicast peers.
ENVELOPE_CACHE = 64

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

log = logging.getLogger("astlinux_ha.net.vrrp_socket")


class Mode(Enum):
    """How an instance reaches its peers."""

    MULTICAST = "multicast"
    UNICAST = "unicast"


@dataclass(frozen=True)
class SocketKey:
    """What makes two instances share one socket.

    ``source`` is the address adverts leave from: ``mcast_src_ip`` or the interface's primary
    address for multicast, ``unicast_src_ip`` (or the primary address) for unicast. Unicast
    sockets only deliver packets addressed to ``source``, as keepalived's bound socket does.
    """

    ifname: str
    family: int
    mode: Mode
    source: IPAddress | None = None
    protocol: int = IPPROTO_VRRP


@dataclass(frozen=True)
class Received:
    """One VRRP packet as it arrived: the payload after the IP header, and its envelope.

    For an AH datagram ``payload`` is the VRRP message after the AH header and ``ah`` the
    whole datagram split up (the ICV covers the IP header). ``via`` is the protocol of the
    socket key that delivered it: a protocol-112 packet reaches both a plain socket and an AH
    socket on the same interface, and each instance only takes its own socket's copy.
    """

    payload: bytes
    src: IPAddress
    dst: IPAddress
    ttl: int
    ifname: str
    ah: AhPacket | None = None
    via: int = IPPROTO_VRRP


@dataclass(frozen=True)
class SendError:
    """Why a send failed; ``errno`` is the kernel's (ENETDOWN, EADDRNOTAVAIL, ...)."""

    errno: int
    message: str
    dst: IPAddress


def parse_ipv4(datagram: bytes) -> tuple[IPAddress, IPAddress, int, bytes] | None:
    """Split an IPv4 datagram from a raw socket into (src, dst, ttl, payload); None if malformed.

    Raw IPv4 sockets deliver the IP header; its length comes from IHL (options are possible),
    the payload end from the total length (Ethernet padding is never part of the payload).
    """
    if len(datagram) < 20 or datagram[0] >> 4 != 4:
        return None
    ihl = (datagram[0] & 0x0F) * 4
    total = struct.unpack_from("!H", datagram, 2)[0]
    if ihl < 20 or total < ihl or len(datagram) < ihl:
        return None
    ttl = datagram[8]
    src = ipaddress.IPv4Address(datagram[12:16])
    dst = ipaddress.IPv4Address(datagram[16:20])
    return src, dst, ttl, bytes(datagram[ihl:min(total, len(datagram))])


def _parse_ipv6_ancillary(
    ancdata: list[tuple[int, int, bytes]],
) -> tuple[int | None, IPAddress | None]:
    hoplimit: int | None = None
    dst: IPAddress | None = None
    for level, kind, data in ancdata:
        if level != socket.IPPROTO_IPV6:
            continue
        if kind == socket.IPV6_HOPLIMIT and len(data) >= 4:
            hoplimit = struct.unpack("@i", data[:4])[0]
        elif kind == socket.IPV6_PKTINFO and len(data) >= 16:
            dst = ipaddress.IPv6Address(data[:16])
    return hoplimit, dst


class VrrpSocket:
    """A raw VRRP socket on one interface; create with :meth:`open` after daemonizing."""

    def __init__(
        self, key: SocketKey, sock: socket.socket, ifindex: int, group: IPAddress | None = None,
        plain: socket.socket | None = None,
    ) -> None:
        self.key = key
        self.ifindex = ifindex
        self.group = group
        self._sock = sock
        # An AH socket's protocol-112 listener (receive only), see the module docstring.
        self._plain = plain
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_packet: Callable[[Received], None] | None = None
        self._last_recv_error: int | None = None
        # (source, destination, ttl) -> (ancillary data, sockaddr) for sendmsg: the same few
        # every interval, and packing them (str() of an address, is_multicast) was a third of
        # the Python cost of an advert. Holds the ifindex, so cleared when that changes.
        self._envelopes: dict[tuple[Any, Any, int | None], tuple[list[Any], tuple]] = {}

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def open(cls, key: SocketKey, group: IPAddress | None = None) -> VrrpSocket:
        """Create, configure and (for multicast) join the group on ``key.ifname``.

        ``group`` overrides 224.0.0.18 / ff02::12 (``vrrp_mcast_group4/6``). Raises OSError when
        the interface does not exist or the process lacks CAP_NET_RAW: the caller decides whether
        that is a FAULT or fatal. The ifindex is captured: if the interface is deleted and
        re-created, close this socket and open a new one.
        """
        # No interface (keepalived 2.4.3 allows it for unicast): unbound, routed by the kernel.
        ifindex = socket.if_nametoindex(key.ifname) if key.ifname else 0
        if not key.ifname and key.mode is Mode.MULTICAST:
            raise ValueError("multicast VRRP needs an interface")
        if key.protocol == IPPROTO_AH:
            if key.family != socket.AF_INET:
                raise ValueError("AH is IPv4 only")
            sock = cls._open_raw(key, ifindex, group, IPPROTO_AH)
            try:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
                plain = cls._open_raw(key, ifindex, group, IPPROTO_VRRP)
            except BaseException:
                sock.close()
                raise
            return cls(key, sock, ifindex, group, plain)
        return cls(key, cls._open_raw(key, ifindex, group, IPPROTO_VRRP), ifindex, group)

    @classmethod
    def _open_raw(
        cls, key: SocketKey, ifindex: int, group: IPAddress | None, protocol: int
    ) -> socket.socket:
        sock = socket.socket(key.family, socket.SOCK_RAW, protocol)
        try:
            sock.setblocking(False)
            if key.ifname:
                sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, key.ifname.encode())
            if key.family == socket.AF_INET:
                cls._setup_ipv4(sock, key, ifindex, group or VRRP_GROUP4)
            elif key.family == socket.AF_INET6:
                cls._setup_ipv6(sock, key, ifindex, group or VRRP_GROUP6)
            else:
                raise ValueError(f"unsupported address family {key.family}")
        except BaseException:
            sock.close()
            raise
        return sock

    @staticmethod
    def _setup_ipv4(sock: socket.socket, key: SocketKey, ifindex: int, group: IPAddress) -> None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, VRRP_TOS)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, VRRP_TTL)
        # keepalived's adverts carry no DF bit; the kernel would set it under PMTU discovery.
        sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
        # Without this a raw socket also receives every group any other socket joined.
        sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        if key.mode is Mode.MULTICAST:
            src = key.source.packed if key.source is not None else bytes(4)
            mreqn = group.packed + src + struct.pack("@i", ifindex)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, VRRP_TTL)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            join = group.packed + bytes(4) + struct.pack("@i", ifindex)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, join)

    @staticmethod
    def _setup_ipv6(sock: socket.socket, key: SocketKey, ifindex: int, group: IPAddress) -> None:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, VRRP_TOS)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, VRRP6_CHECKSUM_OFFSET)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, VRRP_TTL)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
        if key.mode is Mode.MULTICAST:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, VRRP_TTL)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            mreq = group.packed + struct.pack("@I", ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)

    # -- receiving ------------------------------------------------------------------------------

    def start(self, on_packet: Callable[[Received], None]) -> None:
        """Deliver every received packet to ``on_packet`` from the running loop."""
        self._loop = asyncio.get_running_loop()
        self._on_packet = on_packet
        self._loop.add_reader(self._sock.fileno(), self._on_readable)
        if self._plain is not None:
            self._loop.add_reader(self._plain.fileno(), self._on_readable, self._plain)

    def _on_readable(self, sock: socket.socket | None = None) -> None:
        sock = sock if sock is not None else self._sock
        for _ in range(RECV_BATCH):
            try:
                data, ancdata, _flags, addr = sock.recvmsg(RECV_BUFSIZE, ANCILLARY_BUFSIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # ENETDOWN and friends while the link flaps: the link watcher reports it.
                if exc.errno != self._last_recv_error:
                    log.warning("%s: VRRP receive error: %s", self.key.ifname, exc.strerror)
                self._last_recv_error = exc.errno
                return
            self._last_recv_error = None
            record = self._decode(data, ancdata, addr)
            if record is not None and self._on_packet is not None:
                try:
                    self._on_packet(record)
                except Exception:
                    # A bug in one instance's handling must not kill the socket for the others.
                    log.exception("%s: error handling a VRRP packet", self.key.ifname)

    def _decode(
        self, data: bytes, ancdata: list[tuple[int, int, bytes]], addr: tuple
    ) -> Received | None:
        if self.key.family == socket.AF_INET:
            parsed = parse_ipv4(data)
            if parsed is None:
                return None
            src, dst, ttl, payload = parsed
            ah = None
            if self.key.protocol == IPPROTO_AH and data[9] == IPPROTO_AH:
                try:
                    ah = split(data)
                except AhError:
                    # Too short for AH: an empty payload, counted as a short packet.
                    payload = b""
                else:
                    payload = ah.payload
        else:
            hoplimit, dst6 = _parse_ipv6_ancillary(ancdata)
            if hoplimit is None or dst6 is None:
                return None
            # Link-local sources come back as "fe80::1%eth0".
            src = ipaddress.IPv6Address(addr[0].split("%", 1)[0])
            dst, ttl, payload = dst6, hoplimit, data
        if self.key.mode is Mode.UNICAST:
            if dst.is_multicast:
                return None
            if self.key.source is not None and dst != self.key.source:
                return None
        if self.key.protocol == IPPROTO_AH:
            return Received(payload, src, dst, ttl, self.key.ifname, ah, IPPROTO_AH)
        return Received(payload=payload, src=src, dst=dst, ttl=ttl, ifname=self.key.ifname)

    # -- sending --------------------------------------------------------------------------------

    def send(
        self,
        payload: bytes,
        dst: IPAddress | None = None,
        src: IPAddress | None = None,
        ttl: int | None = None,
    ) -> SendError | None:
        """Send one advert; returns None on success, a :class:`SendError` otherwise.

        ``dst`` defaults to the VRRP group (multicast mode). ``src`` defaults to the socket key's
        source; with neither, the kernel picks the interface's address. ``ttl`` overrides 255
        (``unicast_ttl``). The kernel reports a source that is not (yet) on the box as
        ENETUNREACH, EINVAL or EADDRNOTAVAIL depending on the route it took, a downed link as
        ENETDOWN; the link watcher's address events say which it was.
        """
        if dst is None:
            if self.group is not None:
                dst = self.group
            else:
                dst = VRRP_GROUP4 if self.key.family == socket.AF_INET else VRRP_GROUP6
        source = src if src is not None else self.key.source
        envelope = self._envelopes.get((source, dst, ttl))
        if envelope is None:
            if self.key.protocol == IPPROTO_AH:
                # The datagram carries its own IP header: source and TTL are in it.
                envelope = ([], (str(dst), 0))
            elif self.key.family == socket.AF_INET:
                envelope = self._envelope4(dst, source, ttl)
            else:
                envelope = self._envelope6(dst, source, ttl)
            if len(self._envelopes) >= ENVELOPE_CACHE:
                self._envelopes.clear()
            self._envelopes[(source, dst, ttl)] = envelope
        try:
            self._sock.sendmsg([payload], envelope[0], 0, envelope[1])
        except BlockingIOError:
            return SendError(errno.EAGAIN, "socket buffer full", dst)
        except OSError as exc:
            return SendError(exc.errno or errno.EIO, exc.strerror or str(exc), dst)
        return None

    def _envelope4(
        self, dst: IPAddress, src: IPAddress | None, ttl: int | None
    ) -> tuple[list[Any], tuple]:
        cmsgs = []
        if src is not None:
            # struct in_pktinfo {int ifindex; in_addr spec_dst; in_addr addr}: spec_dst is the
            # source the kernel uses, so one socket serves a source that comes and goes.
            pktinfo = struct.pack("@i", self.ifindex) + src.packed + bytes(4)
            cmsgs.append((socket.IPPROTO_IP, IP_PKTINFO, pktinfo))
        if ttl is not None and not dst.is_multicast:
            cmsgs.append((socket.IPPROTO_IP, socket.IP_TTL, struct.pack("@i", ttl)))
        return cmsgs, (str(dst), 0)

    def _envelope6(
        self, dst: IPAddress, src: IPAddress | None, ttl: int | None
    ) -> tuple[list[Any], tuple]:
        cmsgs = []
        if src is not None:
            pktinfo = src.packed + struct.pack("@I", self.ifindex)
            cmsgs.append((socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, pktinfo))
        if ttl is not None and not dst.is_multicast:
            cmsgs.append((socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT, struct.pack("@i", ttl)))
        scope = self.ifindex if dst.is_link_local or dst.is_multicast else 0
        return cmsgs, (str(dst), 0, 0, scope)

    # -- teardown -------------------------------------------------------------------------------

    def fileno(self) -> int:
        """The socket's descriptor (for tests and python-daemon's files_preserve)."""
        return self._sock.fileno()

    def close(self) -> None:
        """Stop receiving and close; safe to call twice."""
        if self._loop is not None and self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
            if self._plain is not None:
                self._loop.remove_reader(self._plain.fileno())
            self._loop = None
        self._sock.close()
        if self._plain is not None:
            self._plain.close()

    def adopt(self, fresh: VrrpSocket) -> None:
        """Take over ``fresh``'s descriptor and ifindex (the interface was re-created), so
        every holder of this object sends and receives on the new link without knowing."""
        callback = self._on_packet
        self.close()
        fresh.close_reader()
        self._sock, self._plain, self.ifindex = fresh._sock, fresh._plain, fresh.ifindex
        self._envelopes.clear()
        self._last_recv_error = None
        if callback is not None:
            self.start(callback)

    def close_reader(self) -> None:
        """Stop receiving without closing the descriptor (it is being adopted)."""
        if self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            if self._plain is not None:
                self._loop.remove_reader(self._plain.fileno())
            self._loop = None


class SocketPool:
    """Hands out one shared :class:`VrrpSocket` per :class:`SocketKey`, reference-counted."""

    def __init__(self, on_packet: Callable[[Received], None]) -> None:
        self._on_packet = on_packet
        self._sockets: dict[SocketKey, VrrpSocket] = {}
        self._users: dict[SocketKey, int] = {}
        self._groups: dict[SocketKey, IPAddress | None] = {}

    def acquire(self, key: SocketKey, group: IPAddress | None = None) -> VrrpSocket:
        """Return the socket for ``key``, opening and starting it on first use (OSError passes)."""
        sock = self._sockets.get(key)
        if sock is None:
            sock = self._open(key, group)
        self._users[key] = self._users.get(key, 0) + 1
        self._groups[key] = group
        return sock

    def _open(self, key: SocketKey, group: IPAddress | None) -> VrrpSocket:
        sock = VrrpSocket.open(key, group)
        sock.start(self._on_packet)
        self._sockets[key] = sock
        return sock

    def release(self, key: SocketKey) -> None:
        """Drop one user of ``key``; the last one closes the socket."""
        users = self._users.get(key, 0) - 1
        if users > 0:
            self._users[key] = users
            return
        self._users.pop(key, None)
        self._groups.pop(key, None)
        sock = self._sockets.pop(key, None)
        if sock is not None:
            sock.close()

    def reopen_interface(self, ifname: str) -> list[SocketKey]:
        """Re-create every socket in use on ``ifname`` (after it was deleted and re-created).

        A socket keeps the ifindex it was opened on, so it is dead once its interface is gone.
        Keys that cannot be opened now are returned and stay in use: call again when the
        interface is back.
        """
        failed = []
        for key in [k for k in self._users if k.ifname == ifname]:
            old = self._sockets.get(key)
            try:
                if old is None:
                    self._open(key, self._groups.get(key))
                else:
                    # The same object stays in the callers' hands; only its descriptor changes.
                    old.adopt(VrrpSocket.open(key, self._groups.get(key)))
            except OSError as exc:
                log.warning("%s: cannot open VRRP socket: %s", ifname, exc.strerror or exc)
                failed.append(key)
        return failed

    def get(self, key: SocketKey) -> VrrpSocket | None:
        """The open socket for ``key``, if any."""
        return self._sockets.get(key)

    def close(self) -> None:
        """Close every socket."""
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()
        self._users.clear()
        self._groups.clear()
