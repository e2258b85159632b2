"""A minimal two-host wire for the net/ tests: hosts A and B behind a bridge in a switch netns.

Every name is unique per test (pid + random suffix) and everything lives inside namespaces we
create, so concurrent helpers on this machine are never touched. Inside the namespaces the
interfaces have fixed names (``eth0`` on the hosts, ``pa``/``pb`` on the switch): namespaces make
them private. Pulling a cable = setting the switch-side port down, exactly as in the lab.

Code under test runs in :class:`NetnsLoop`: a thread that entered the namespace with setns(2)
(network namespaces are per thread) and runs its own asyncio loop, so every socket and netlink
handle it opens belongs to that namespace.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import os
import secrets
import subprocess
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

CLONE_NEWNET = 0x40000000
T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output."""
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=20)


def ns_sh(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command inside namespace ``ns``."""
    return sh("ip", "netns", "exec", ns, *args, check=check)


def unique_prefix() -> str:
    """A namespace-name prefix no other test or helper on this machine uses."""
    return f"ahnet{os.getpid()}{secrets.token_hex(2)}"


class Wire:
    """Hosts A (10.77.0.1, fd77::1) and B (10.77.0.2, fd77::2) on bridge br0 in a switch ns."""

    A4, B4 = "10.77.0.1", "10.77.0.2"
    A6, B6 = "fd77::1", "fd77::2"

    def __init__(self) -> None:
        prefix = unique_prefix()
        self.a, self.b, self.sw = f"{prefix}a", f"{prefix}b", f"{prefix}s"
        self._made: list[str] = []

    def build(self) -> Wire:
        """Create the namespaces and links; on failure the caller's finally calls destroy()."""
        for ns in (self.a, self.b, self.sw):
            sh("ip", "netns", "add", ns)
            self._made.append(ns)
            # No DAD: addresses (link-local included) must be usable at once.
            ns_sh(ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                  "net.ipv6.conf.default.accept_dad=0")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.sw, "link", "add", "br0", "type", "bridge", "forward_delay", "0",
           "stp_state", "0", "mcast_snooping", "0")
        for host, port in ((self.a, "pa"), (self.b, "pb")):
            sh("ip", "-n", self.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0",
               "netns", host)
            sh("ip", "-n", self.sw, "link", "set", port, "master", "br0", "up")
        sh("ip", "-n", self.sw, "link", "set", "br0", "up")
        for host, v4, v6 in ((self.a, self.A4, self.A6), (self.b, self.B4, self.B6)):
            sh("ip", "-n", host, "addr", "add", f"{v4}/24", "dev", "eth0")
            sh("ip", "-n", host, "addr", "add", f"{v6}/64", "dev", "eth0", "nodad")
            sh("ip", "-n", host, "link", "set", "eth0", "up")
        return self

    def link_local(self, ns: str, ifname: str = "eth0") -> str:
        """The fe80:: address of ``ifname`` in ``ns``."""
        out = sh("ip", "-n", ns, "-6", "-o", "addr", "show", "dev", ifname, "scope", "link").stdout
        return out.split()[3].split("/")[0]

    def destroy(self) -> None:
        """Delete our namespaces (their veths and bridge go with them)."""
        for ns in self._made:
            sh("ip", "netns", "del", ns, check=False)
        self._made.clear()


class NetnsLoop:
    """An asyncio loop running in a thread that has entered network namespace ``ns``."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"netns-{ns}", daemon=True)

    def __enter__(self) -> NetnsLoop:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _main(self) -> None:
        try:
            fd = os.open(f"/var/run/netns/{self.ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            finally:
                os.close(fd)
            self.loop = asyncio.new_event_loop()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def run(self, fn: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
        """Run coroutine function ``fn`` on the namespace's loop and return its result."""
        assert self.loop is not None

        async def wrapper() -> T:
            return await fn()

        future = asyncio.run_coroutine_threadsafe(wrapper(), self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run plain ``fn`` in the loop's thread (hence in the namespace) and return its result."""

        async def wrapper() -> T:
            return fn(*args)

        return self.run(wrapper)

    def close(self) -> None:
        """Stop the loop and join the thread."""
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
