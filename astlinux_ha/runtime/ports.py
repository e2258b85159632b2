"""The edges the shells (supervisor.py, instance.py) act through, as protocols: the daemon
passes the real ones (the asyncio loop, pyroute2, raw sockets), the unit and conformance tests
pass recording fakes with a virtual clock."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol


class Handle(Protocol):
    """A scheduled callback that can be called off."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time and timers: the running loop, or a test's virtual clock."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Handle: ...

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Handle: ...


def wall_clock() -> str:
    """Now as an ISO 8601 UTC timestamp, for status files and the journal."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Edges:
    """Factories for every edge object the supervisor creates, so a test can hand it
    recording fakes; :meth:`real` is what the daemon runs with. Each field is called as the
    real class or function it stands for is."""

    netlink: Callable[[], Any]  # Netlink()
    addresses: Callable[[Any], Any]  # AddressManager(netlink)
    announcer: Callable[[float, float], Any]  # Announcer(garp_interval, gna_interval)
    sockets: Callable[[Callable[[Any], None]], Any]  # SocketPool(on_packet)
    links: Callable[[Callable[[Any], None]], Any]  # LinkWatcher(on_event)
    state_dir: Callable[[str, logging.Logger], Any]  # StateDir(path, log)
    notifier: Callable[..., Any]  # Notifier(kind, name, scripts, fifos=, umask=)
    notify_fifo: Callable[..., Any]  # NotifyFifo(path, script=, uid=, gid=, umask=)
    track_script: Callable[..., Any]  # TrackScript(spec, on_change, umask=)
    interface: Callable[[Any, str], Awaitable[Any]]  # get_interface(netlink, ifname)
    user: Callable[[str, str | None], Any]  # resolve_user(user, group)
    clock: Callable[[], Clock]  # the running loop
    conflicts: Callable[..., Any]  # ConflictWatcher(ifname, ipv4_vips, on_claim): split brain
    wall_clock: Callable[[], str]  # now, ISO 8601 UTC, for status files and the journal
    # Firewall(log): no_accept's drop rules. None (a test's Edges that has no use for it):
    # no rule is ever set, so a fake never reaches the host's nftables.
    firewall: Callable[[logging.Logger], Any] | None = None
    # VmacManager(netlink): use_vmac's macvlans. None: an instance with use_vmac runs on
    # its interface itself (said in the log), so a fake never creates a host interface.
    vmacs: Callable[[Any], Any] | None = None

    @classmethod
    def real(cls) -> Edges:
        """The daemon's edges: pyroute2, raw sockets, processes, the state dir, the loop."""
        # Imported here: the runtime package itself stays free of the edge modules.
        import asyncio

        from astlinux_ha import net, state
        from astlinux_ha.net import conflict, nftables, vmac
        from astlinux_ha.scripts import notify, track, users

        return cls(
            netlink=net.Netlink,
            addresses=net.AddressManager,
            announcer=net.Announcer,
            sockets=net.SocketPool,
            links=net.LinkWatcher,
            state_dir=state.StateDir,
            notifier=notify.Notifier,
            notify_fifo=notify.NotifyFifo,
            track_script=track.TrackScript,
            interface=net.get_interface,
            user=users.resolve_user,
            clock=asyncio.get_running_loop,
            conflicts=conflict.ConflictWatcher,
            wall_clock=wall_clock,
            firewall=nftables.Firewall,
            vmacs=vmac.VmacManager,
        )
