"""The daemon's one netlink request channel: pyroute2's AsyncIPRoute, owned in one place.

pyroute2's synchronous IPRoute runs its own event loop and cannot be used inside ours, so every
request goes through :class:`Netlink`, created lazily inside the running loop (after
daemonizing). Requests are serialized: they are short, and one at a time keeps the kernel's
answers and our log lines in the order the state machine asked for them.

The requests a takeover makes by the hundred (a VIP added or removed per instance) skip
pyroute2: :meth:`Netlink.send_batch` writes requests the caller encoded to a plain rtnetlink
socket of its own, back to back, and reads their acknowledgements. pyroute2 spends ~0.35 ms
of CPU building and parsing each such request; the kernel's own work is ~0.02 ms.

Links, addresses and route deletions are read the same way (:class:`RtSocket`, decoded by
:func:`decode`): a takeover's 200 address events cost the link watcher ~0.2 ms each through
pyroute2's decoder. A decoded :class:`RtMessage` answers by pyroute2's names (``msg["index"]``,
``msg.get("ifname")``, ``msg.get_attr("IFA_FLAGS")``) the few fields the daemon reads.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .pyroute2_lite import AsyncIPRoute, NetlinkError

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # an error's ack carries the request's header only, not all of it
NLMSG_HEADER = struct.Struct("=IHHII")  # nlmsg_len, type, flags, seq, pid
_ERRNO = struct.Struct("=i")
# Requests per datagram: each ack takes ~1 KiB of the socket's receive buffer (~208 KiB by
# default) until it is read, so a batch never fills it however many instances there are.
BATCH = 64
# A request the kernel never acknowledges (none should): the batch gives up after this long.
ACK_TIMEOUT = 5.0


RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
EVENTS = {RTM_NEWLINK: "RTM_NEWLINK", RTM_DELLINK: "RTM_DELLINK", RTM_NEWADDR: "RTM_NEWADDR",
          RTM_DELADDR: "RTM_DELADDR", RTM_NEWROUTE: "RTM_NEWROUTE",
          RTM_DELROUTE: "RTM_DELROUTE"}
_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, proto, scope,
#                                       type, flags
_RTATTR = struct.Struct("=HH")  # rta_len, rta_type
_U32 = struct.Struct("=I")
_NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER
IFLA_ADDRESS, IFLA_IFNAME, IFLA_OPERSTATE = 1, 3, 16
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_FLAGS = 1, 2, 3, 8
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE = 1, 4, 5, 6, 15
RTPROT_KEEPALIVED = 18
# RFC 2863 operational states, as the kernel numbers them (IF_OPER_*).
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
# A dump's datagrams are at most 32 KiB (the kernel's cap); events are far smaller.
RECV_BUFFER = 65536


class RtMessage(dict[str, Any]):
    """One decoded rtnetlink message: its header fields and the attributes the daemon reads,
    under pyroute2's names, so code written for pyroute2's messages reads it alike."""

    __slots__ = ()

    def get_attr(self, name: str, default: Any = None) -> Any:
        """An attribute by its netlink name (``IFA_FLAGS``, ``RTA_DST``...)."""
        return self.get(name, default)


def _attrs(data: memoryview, offset: int, end: int) -> Iterator[tuple[int, memoryview]]:
    while offset + _RTATTR.size <= end:
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size or offset + length > end:
            return
        yield kind & _NLA_TYPE_MASK, data[offset + _RTATTR.size:offset + length]
        offset += (length + 3) & ~3


def _text(raw: memoryview) -> str:
    return bytes(raw).split(b"\0", 1)[0].decode(errors="replace")


def _link(kind: int, data: memoryview, offset: int, end: int) -> RtMessage:
    family, _type, index, flags, _change = _IFINFOMSG.unpack_from(data, offset)
    msg = RtMessage(event=EVENTS[kind], family=family, index=index, flags=flags)
    for attr, raw in _attrs(data, offset + _IFINFOMSG.size, end):
        if attr == IFLA_IFNAME:
            msg["ifname"] = _text(raw)
        elif attr == IFLA_ADDRESS:
            msg["address"] = ":".join(f"{b:02x}" for b in raw)
        elif attr == IFLA_OPERSTATE and len(raw) >= 1:
            msg["operstate"] = OPERSTATES[raw[0]] if raw[0] < len(OPERSTATES) else "UNKNOWN"
    return msg


def _address(kind: int, data: memoryview, offset: int, end: int) -> RtMessage:
    family, prefixlen, flags, scope, index = _IFADDRMSG.unpack_from(data, offset)
    msg = RtMessage(event=EVENTS[kind], family=family, prefixlen=prefixlen, flags=flags,
                    scope=scope, index=index)
    for attr, raw in _attrs(data, offset + _IFADDRMSG.size, end):
        if attr in (IFA_ADDRESS, IFA_LOCAL) and len(raw) in (4, 16):
            msg["address" if attr == IFA_ADDRESS else "local"] = socket.inet_ntop(
                socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
        elif attr == IFA_LABEL:
            msg["label"] = _text(raw)
        elif attr == IFA_FLAGS and len(raw) >= 4:
            msg["IFA_FLAGS"] = _U32.unpack_from(raw)[0]
    return msg


def _route(kind: int, data: memoryview, offset: int, end: int) -> RtMessage:
    (family, dst_len, _src_len, _tos, table, proto, scope, rtype,
     _flags) = _RTMSG.unpack_from(data, offset)
    msg = RtMessage(event=EVENTS[kind], family=family, dst_len=dst_len, table=table,
                    proto=proto, scope=scope, type=rtype)
    if kind != RTM_DELROUTE or proto != RTPROT_KEEPALIVED:
        return msg  # nobody reads another route change's attributes: not decoded
    for attr, raw in _attrs(data, offset + _RTMSG.size, end):
        if attr in (RTA_DST, RTA_GATEWAY) and len(raw) in (4, 16):
            msg["RTA_DST" if attr == RTA_DST else "RTA_GATEWAY"] = socket.inet_ntop(
                socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
        elif attr in (RTA_OIF, RTA_PRIORITY, RTA_TABLE) and len(raw) >= 4:
            name = {RTA_OIF: "RTA_OIF", RTA_PRIORITY: "RTA_PRIORITY", RTA_TABLE: "RTA_TABLE"}
            msg[name[attr]] = _U32.unpack_from(raw)[0]
    return msg


_DECODERS = {RTM_NEWLINK: (_link, _IFINFOMSG.size), RTM_DELLINK: (_link, _IFINFOMSG.size),
             RTM_NEWADDR: (_address, _IFADDRMSG.size), RTM_DELADDR: (_address, _IFADDRMSG.size),
             RTM_NEWROUTE: (_route, _RTMSG.size), RTM_DELROUTE: (_route, _RTMSG.size)}


def decode(data: bytes | bytearray | memoryview) -> Iterator[tuple[int, int, int, Any]]:
    """The messages of one datagram as ``(type, flags, seq, body)``: ``body`` is an
    :class:`RtMessage` for a link, address or route, the errno (0: done) of an NLMSG_ERROR,
    and None for anything else (NLMSG_DONE, types the daemon does not read)."""
    view = memoryview(data)
    offset = 0
    while offset + NLMSG_HEADER.size <= len(view):
        length, kind, flags, seq, _pid = NLMSG_HEADER.unpack_from(view, offset)
        if length < NLMSG_HEADER.size or offset + length > len(view):
            return
        start, end = offset + NLMSG_HEADER.size, offset + length
        body: Any = None
        decoder = _DECODERS.get(kind)
        if decoder is not None and end - start >= decoder[1]:
            body = decoder[0](kind, view, start, end)
        elif kind == NLMSG_ERROR and end - start >= _ERRNO.size:
            body = -_ERRNO.unpack_from(view, start)[0]
        yield kind, flags, seq, body
        offset += (length + 3) & ~3


class RtSocket:
    """A plain, non-blocking rtnetlink socket, optionally bound to multicast ``groups``:
    dumps, and the events of those groups, decoded by :func:`decode`."""

    def __init__(self, groups: int = 0, rcvbuf: int | None = None) -> None:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                             socket.NETLINK_ROUTE)
        try:
            sock.setblocking(False)
            if rcvbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.bind((0, groups))
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self._seq = 0
        # One buffer for every read: asyncio's sock_recv allocates a fresh one per datagram.
        self._buffer = bytearray(RECV_BUFFER)

    async def read(self) -> list[tuple[int, int, int, Any]]:
        """The messages of the next datagram (waits for one). OSError (ENOBUFS: events
        were lost) when the socket failed."""
        loop = asyncio.get_running_loop()
        size = await loop.sock_recv_into(self.sock, self._buffer)
        return list(decode(memoryview(self._buffer)[:size]))

    async def dump(self, kind: int, body: bytes,
                   events: list[Any] | None = None) -> list[RtMessage]:
        """Send a dump request (``kind``: RTM_GETLINK, RTM_GETADDR) and collect its answer.
        Events that arrive meanwhile go to ``events`` (dropped without it)."""
        self._seq = self._seq % 0x7FFFFFFF + 1
        seq = self._seq
        request = NLMSG_HEADER.pack(NLMSG_HEADER.size + len(body), kind,
                                    NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body
        await asyncio.get_running_loop().sock_sendall(self.sock, request)
        out: list[RtMessage] = []
        while True:
            for mtype, _flags, mseq, msg in await self.read():
                if mseq != seq:
                    if isinstance(msg, RtMessage) and events is not None:
                        events.append(msg)
                    continue
                if mtype == NLMSG_DONE:
                    return out
                if mtype == NLMSG_ERROR:
                    if msg:
                        raise OSError(msg, os.strerror(msg))
                    return out
                if isinstance(msg, RtMessage):
                    out.append(msg)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def link_dump_request() -> bytes:
    """The body of a dump of every link."""
    return _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)


def address_dump_request(family: int = socket.AF_UNSPEC) -> bytes:
    """The body of a dump of every address of ``family`` (AF_UNSPEC: both)."""
    return _IFADDRMSG.pack(family, 0, 0, 0, 0)


class Netlink:
    """Lazily-opened AsyncIPRoute with serialized requests and errno-tolerant helpers."""

    def __init__(self) -> None:
        self._ipr: AsyncIPRoute | None = None
        self._lock = asyncio.Lock()
        self._raw: socket.socket | None = None
        self._seq = 0
        # The batches' acks are read into this one buffer (each is 36 bytes with
        # NETLINK_CAP_ACK): no fresh buffer per read to fragment the heap.
        self._acks = bytearray(8192)
        self._dumper: RtSocket | None = None

    def _handle(self) -> AsyncIPRoute:
        if self._ipr is None:
            self._ipr = AsyncIPRoute()
        return self._ipr

    async def request(self, method: str, *args: Any, ok: Iterable[int] = (), **kwargs: Any) -> int:
        """Run ``AsyncIPRoute.<method>(*args, **kwargs)``; return 0 or the tolerated errno.

        Errors whose code is in ``ok`` (EEXIST for an add that is already done, EADDRNOTAVAIL or
        ESRCH for a delete) are returned instead of raised; others raise NetlinkError.
        """
        tolerated = set(ok)
        async with self._lock:
            try:
                await getattr(self._handle(), method)(*args, **kwargs)
            except NetlinkError as exc:
                if exc.code in tolerated:
                    return exc.code
                raise
        return 0

    async def send_batch(self, requests: Sequence[tuple[int, int, bytes]]) -> list[int]:
        """Send rtnetlink ``requests`` (message type, flags, encoded body), in order and
        acknowledged (NLM_F_REQUEST | NLM_F_ACK are added), without pyroute2; return each
        one's errno, 0 for done. OSError when the socket itself fails."""
        results: list[int] = []
        async with self._lock:
            for start in range(0, len(requests), BATCH):
                chunk = requests[start:start + BATCH]
                try:
                    results += await self._exchange(chunk)
                except OSError:
                    # Whatever answers are still due would be read as the next batch's.
                    self._close_raw()
                    raise
        return results

    async def _exchange(self, chunk: Sequence[tuple[int, int, bytes]]) -> list[int]:
        """One datagram of requests and their acks. Neither the send nor (usually) the reads
        wait, so a batch takes no turn of the loop: a takeover's VIPs are not queued behind
        the other instances' timers (a task per batch for a timeout cost each one a turn)."""
        loop = asyncio.get_running_loop()
        sock = self._raw_socket()
        deadline = loop.time() + ACK_TIMEOUT
        seqs: dict[int, int] = {}  # sequence number -> index in the chunk
        parts: list[bytes] = []
        for kind, flags, body in chunk:
            self._seq = self._seq % 0x7FFFFFFF + 1
            seqs[self._seq] = len(parts)
            parts.append(NLMSG_HEADER.pack(NLMSG_HEADER.size + len(body), kind,
                                           flags | NLM_F_REQUEST | NLM_F_ACK, self._seq, 0)
                         + body)
        await loop.sock_sendall(sock, b"".join(parts))
        # rtnetlink handles the requests inside the send, so their acks are queued already.
        answers: dict[int, int] = {}
        buffer = self._acks
        while len(answers) < len(chunk):
            try:
                size = sock.recv_into(buffer)
            except BlockingIOError:
                try:
                    size = await asyncio.wait_for(loop.sock_recv_into(sock, buffer),
                                                  max(0.0, deadline - loop.time()))
                except TimeoutError:
                    raise OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT)) from None
            for kind, _flags, seq, code in decode(memoryview(buffer)[:size]):
                # An answer to an earlier, abandoned batch has another sequence number.
                index = seqs.get(seq)
                if kind == NLMSG_ERROR and index is not None:
                    answers[index] = code
        return [answers[i] for i in range(len(chunk))]

    def _raw_socket(self) -> socket.socket:
        if self._raw is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                 socket.NETLINK_ROUTE)
            try:
                sock.setblocking(False)
                sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
                sock.bind((0, 0))
            except OSError:
                sock.close()
                raise
            self._raw = sock
        return self._raw

    def _close_raw(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    async def links(self) -> list[RtMessage]:
        """Every link, as the kernel dumps them."""
        async with self._lock:
            return await self._dump(RTM_GETLINK, link_dump_request())

    async def addresses(self, family: int = socket.AF_UNSPEC,
                        index: int | None = None) -> list[RtMessage]:
        """Every address of ``family`` (on interface ``index`` only, if given), in the
        kernel's order."""
        async with self._lock:
            found = await self._dump(RTM_GETADDR, address_dump_request(family))
        return found if index is None else [m for m in found if m["index"] == index]

    async def _dump(self, kind: int, body: bytes) -> list[RtMessage]:
        if self._dumper is None:
            self._dumper = RtSocket()
        try:
            return await self._dumper.dump(kind, body)
        except BaseException:
            # A dump cut short leaves its rest in the socket for the next one to misread.
            self._dumper.close()
            self._dumper = None
            raise

    async def dump(self, method: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Collect a dump request (``addr``/``link``/``route`` with "dump", ``get_addr``...)."""
        async with self._lock:
            result = await getattr(self._handle(), method)(*args, **kwargs)
            return [msg async for msg in result]

    async def ifindex(self, ifname: str) -> int | None:
        """The current index of ``ifname``, None if there is no such interface.

        SIOCGIFINDEX (``if_nametoindex``), not a netlink 'get': pyroute2 0.9 ends a 'get'
        request at the kernel's answer, and the ACK that follows lands in a queue nothing reads,
        one message per lookup for the life of the socket (issue 9: ~2 per failover, and the
        glibc heap grew ~3 KiB per message around them). Never use 'get' requests here.
        """
        try:
            return socket.if_nametoindex(ifname)
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        """Close the sockets; the next request opens a new one."""
        self._close_raw()
        if self._dumper is not None:
            self._dumper.close()
            self._dumper = None
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None


def describe_error(exc: BaseException) -> str:
    """A short human text for a netlink or OS error, e.g. ``No such device (19)``."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    if isinstance(code, int) and code > 0:
        return f"{os.strerror(code)} ({errno.errorcode.get(code, code)})"
    return str(exc)
