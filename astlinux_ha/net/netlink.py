"""The daemon's one netlink request channel: pyroute2's AsyncIPRoute, owned in one place.

pyroute2's synchronous IPRoute runs its own event loop and cannot be used inside ours, so every
request goes through :class:`Netlink`, created lazily inside the running loop (after
daemonizing). Requests are serialized: they are short, and one at a time keeps the kernel's
answers and our log lines in the order the state machine asked for them.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Iterable
from typing import Any

from .pyroute2_lite import AsyncIPRoute, NetlinkError


class Netlink:
    """Lazily-opened AsyncIPRoute with serialized requests and errno-tolerant helpers."""

    def __init__(self) -> None:
        self._ipr: AsyncIPRoute | None = None
        self._lock = asyncio.Lock()

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
        """Close the socket; the next request opens a new one."""
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None


def describe_error(exc: BaseException) -> str:
    """A short human text for a netlink or OS error, e.g. ``No such device (19)``."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    if isinstance(code, int) and code > 0:
        return f"{os.strerror(code)} ({errno.errorcode.get(code, code)})"
    return str(exc)
