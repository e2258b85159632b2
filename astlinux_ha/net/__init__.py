"""The network edge: VRRP sockets, virtual addresses and routes, link events, GARP/NA.

Everything here is asyncio-native and creates no socket at import: the daemon builds these
objects inside its running loop, after daemonizing. Nothing raises into the loop for network
trouble (link down, address missing, interface gone): calls return what failed, for the log.

VRRP packets (:mod:`.vrrp_socket`)::

    pool = SocketPool(on_packet)                       # on_packet(Received) in the loop
    sock = pool.acquire(SocketKey("eth0", AF_INET, Mode.UNICAST, IPv4Address("10.10.50.62")))
    err = sock.send(advert_bytes, dst=IPv4Address("10.10.50.65"))    # SendError | None
    pool.release(key); pool.reopen_interface("eth0"); pool.close()

  ``Received(payload, src, dst, ttl, ifname)``: payload without IP header; ttl is the TTL or
  hop limit. One socket per key serves all instances on it; dispatch by VRID is the caller's.
  IPv6 checksums are filled and verified by the kernel (IPV6_CHECKSUM 6).

Addresses (:mod:`.addresses`, :mod:`.interfaces`, one :class:`Netlink` per daemon)::

    nl = Netlink(); mgr = AddressManager(nl)
    await mgr.add_vips([Vip(ip, 32, "eth0", label="eth0:10")])   # -> list[Failure]
    await mgr.remove_vips(vips); await mgr.present_vips(vips); await mgr.remove_leftovers(vips)
    await mgr.add_routes(routes); await mgr.remove_routes(routes)
    info = await get_interface(nl, "eth0")   # InterfaceInfo: ifindex, mac, up, primary_ipv4()...

Links (:mod:`.links`)::

    watcher = LinkWatcher(on_event)          # on_event(LinkEvent | AddressEvent)
    await watcher.start()                    # current state arrives as events before it returns
    watcher.link("eth0"); watcher.addresses("eth0"); await watcher.close()

Announcements (:mod:`.announce`; when to send them is the VRRP core's: its GARP timers)::

    announcer = Announcer(garp_interval=0.0, gna_interval=0.0)
    await announcer.announce("eth0", [vip.address ...], repeat=5)   # -> AnnounceResult
"""

from .addresses import (
    SCOPES,
    AddressManager,
    Failure,
    KernelRoute,
    Vip,
    broadcast_for,
    scope_id,
)
from .announce import Announcer, AnnounceResult, garp_frame, unsolicited_na_frame
from .interfaces import IfAddress, InterfaceInfo, get_interface, link_is_up
from .links import AddressEvent, LinkEvent, LinkWatcher
from .netlink import Netlink, describe_error
from .vrrp_socket import (
    IPPROTO_VRRP,
    VRRP_GROUP4,
    VRRP_GROUP6,
    Mode,
    Received,
    SendError,
    SocketKey,
    SocketPool,
    VrrpSocket,
)

__all__ = [
    "IPPROTO_VRRP",
    "SCOPES",
    "VRRP_GROUP4",
    "VRRP_GROUP6",
    "AddressEvent",
    "AddressManager",
    "AnnounceResult",
    "Announcer",
    "Failure",
    "IfAddress",
    "InterfaceInfo",
    "LinkEvent",
    "LinkWatcher",
    "Mode",
    "Netlink",
    "Received",
    "SendError",
    "SocketKey",
    "SocketPool",
    "KernelRoute",
    "Vip",
    "VrrpSocket",
    "broadcast_for",
    "describe_error",
    "garp_frame",
    "get_interface",
    "link_is_up",
    "scope_id",
    "unsolicited_na_frame",
]
