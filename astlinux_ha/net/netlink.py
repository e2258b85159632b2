"""The daemon's one netlink request channel: pyroute2's AsyncIPRoute, owned in one place.

pyroute2's synchronous IPRoute runs its own event loop and cannot be used inside ours, so every
request goes through :class:`Netlink`, created lazily inside the running loop (after
daemonizing). Requests are serialized: they are short, and one at a time keeps the kernel's
answers and our log lines in the order the state machine asked for them.

The requests a takeover makes by the hundred (a VIP added or removed per instance) skip
pyroute2: :meth:`Netlink.send_batch` writes requests the caller encoded to a plain rtnetlink
socket of its own, back to back, and reads their acknowledgements. pyroute2 spends ~0.35 ms
of CPU building and parsing each such request; the kernel's own work is ~0.02 ms.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
from collections.abc import Iterable, Sequence
from typing import Any

from .pyroute2_lite import AsyncIPRoute, NetlinkError

NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
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


class Netlink:
    """Lazily-opened AsyncIPRoute with serialized requests and errno-tolerant helpers."""

    def __init__(self) -> None:
        self._ipr: AsyncIPRoute | None = None
        self._lock = asyncio.Lock()
        self._raw: socket.socket | None = None
        self._seq = 0

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
        while len(answers) < len(chunk):
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                try:
                    data = await asyncio.wait_for(loop.sock_recv(sock, 65536),
                                                  max(0.0, deadline - loop.time()))
                except TimeoutError:
                    raise OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT)) from None
            offset = 0
            while offset + NLMSG_HEADER.size <= len(data):
                length, kind, _flags, seq, _pid = NLMSG_HEADER.unpack_from(data, offset)
                if length < NLMSG_HEADER.size:
                    break
                # An answer to an earlier, abandoned batch has another sequence number.
                index = seqs.get(seq)
                if kind == NLMSG_ERROR and index is not None:
                    answers[index] = -_ERRNO.unpack_from(data, offset + NLMSG_HEADER.size)[0]
                offset += (length + 3) & ~3
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
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None


def describe_error(exc: BaseException) -> str:
    """A short human text for a netlink or OS error, e.g. ``No such device (19)``."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    if isinstance(code, int) and code > 0:
        return f"{os.strerror(code)} ({errno.errorcode.get(code, code)})"
    return str(exc)
