"""VIPs, virtual routes and interface facts through netlink, inside a namespace."""

from __future__ import annotations

import asyncio
import ipaddress
import re

import pytest

from astlinux_ha.net.addresses import KernelRoute, Vip, broadcast_for, scope_id
from astlinux_ha.net.interfaces import get_interface
from astlinux_ha.net.netlink import Netlink
from lab.netns import ns_sh, sh

pytestmark = [pytest.mark.root]

VIP = Vip(ipaddress.ip_address("10.77.0.244"), 32, "eth0", label="eth0:10")
VIP6 = Vip(ipaddress.ip_address("fd77::244"), 64, "eth0", nodad=True)


def addr_lines(ns: str, family: str = "-4") -> list[str]:
    out = sh("ip", "-n", ns, family, "addr", "show", "dev", "eth0").stdout
    return [line.strip() for line in out.splitlines() if line.strip().startswith("inet")]


def test_vip_line_reads_exactly_as_the_guide_says(address_host):
    wire, loop, _nl, mgr = address_host
    assert loop.run(lambda: mgr.add_vips([VIP])) == []
    assert "inet 10.77.0.244/32 scope global eth0:10" in addr_lines(wire.a)
    # Adding again is a no-op, not an error, and leaves exactly one copy.
    assert loop.run(lambda: mgr.add_vips([VIP])) == []
    assert sum("10.77.0.244" in line for line in addr_lines(wire.a)) == 1


def test_remove_is_idempotent_and_present_tracks(address_host):
    wire, loop, _nl, mgr = address_host
    assert loop.run(lambda: mgr.present_vips([VIP, VIP6])) == set()
    loop.run(lambda: mgr.add_vips([VIP, VIP6]))
    assert loop.run(lambda: mgr.present_vips([VIP, VIP6])) == {VIP, VIP6}
    assert loop.run(lambda: mgr.remove_vips([VIP, VIP6])) == []
    assert loop.run(lambda: mgr.remove_vips([VIP, VIP6])) == []
    assert loop.run(lambda: mgr.present_vips([VIP, VIP6])) == set()
    assert not any("10.77.0.244" in line for line in addr_lines(wire.a))


def test_ipv6_vip_nodad_and_prefix(address_host):
    wire, loop, _nl, mgr = address_host
    assert loop.run(lambda: mgr.add_vips([VIP6])) == []
    lines = addr_lines(wire.a, "-6")
    assert any(re.fullmatch(r"inet6 fd77::244/64 scope global nodad\b.*", ln) for ln in lines)


def test_brd_and_scope(address_host):
    wire, loop, _nl, mgr = address_host
    addr = ipaddress.IPv4Address("10.78.0.5")
    vip = Vip(addr, 24, "eth0", broadcast=broadcast_for(addr, 24), scope=scope_id("link"),
              label="eth0:11")
    assert loop.run(lambda: mgr.add_vips([vip])) == []
    assert "inet 10.78.0.5/24 brd 10.78.0.255 scope link eth0:11" in addr_lines(wire.a)


def test_missing_interface_is_a_failure_not_an_exception(address_host):
    _wire, loop, _nl, mgr = address_host
    ghost = Vip(ipaddress.ip_address("10.77.0.245"), 32, "nope0")
    failures = loop.run(lambda: mgr.add_vips([ghost, VIP]))
    assert [f.item for f in failures] == [ghost]
    assert loop.run(lambda: mgr.present_vips([VIP])) == {VIP}
    # Removing from a missing interface: the address cannot be there, nothing to report.
    assert loop.run(lambda: mgr.remove_vips([ghost])) == []


def test_remove_leftovers_from_a_crashed_run(address_host):
    wire, loop, _nl, mgr = address_host
    ns_sh(wire.a, "ip", "addr", "add", "10.77.0.244/32", "dev", "eth0", "label", "eth0:10")
    other = Vip(ipaddress.ip_address("10.77.0.246"), 32, "eth0")
    assert loop.run(lambda: mgr.remove_leftovers([other, VIP])) == [VIP]
    assert not any("10.77.0.244" in line for line in addr_lines(wire.a))
    assert loop.run(lambda: mgr.remove_leftovers([other, VIP])) == []


def test_virtual_routes_idempotent(address_host):
    wire, loop, _nl, mgr = address_host
    routes = [
        KernelRoute(ipaddress.ip_network("192.0.2.0/24"), gateway=ipaddress.ip_address(wire.B4),
                     ifname="eth0", metric=7),
        KernelRoute(ipaddress.ip_network("198.51.100.0/24"), kind="blackhole"),
        KernelRoute(ipaddress.ip_network("2001:db8::/64"), gateway=ipaddress.ip_address(wire.B6),
                     ifname="eth0"),
    ]
    for _ in range(2):
        assert loop.run(lambda: mgr.add_routes(routes)) == []
    shown = sh("ip", "-n", wire.a, "route").stdout
    assert "192.0.2.0/24 via 10.77.0.2 dev eth0 proto keepalived metric 7" in shown
    assert "blackhole 198.51.100.0/24 proto keepalived" in shown
    assert "2001:db8::/64 via fd77::2 dev eth0" in sh("ip", "-n", wire.a, "-6", "route").stdout
    for _ in range(2):
        assert loop.run(lambda: mgr.remove_routes(routes)) == []
    shown = sh("ip", "-n", wire.a, "route").stdout
    assert "192.0.2.0" not in shown and "198.51.100.0" not in shown
    # An admin's identical route (another proto) is not ours to delete.
    ns_sh(wire.a, "ip", "route", "add", "192.0.2.0/24", "via", wire.B4, "metric", "7")
    assert loop.run(lambda: mgr.remove_routes(routes)) == []
    assert "192.0.2.0/24 via 10.77.0.2 dev eth0 metric 7" in sh("ip", "-n", wire.a, "route").stdout


def test_bad_route_is_reported(address_host):
    _wire, loop, _nl, mgr = address_host
    unreachable_gw = KernelRoute(ipaddress.ip_network("192.0.2.0/24"),
                                  gateway=ipaddress.ip_address("203.0.113.1"))
    failures = loop.run(lambda: mgr.add_routes([unreachable_gw]))
    assert [f.item for f in failures] == [unreachable_gw]
    assert "unreachable" in failures[0].reason.lower()


def test_interface_facts(address_host):
    wire, loop, nl, mgr = address_host
    # A VIP added before the real address must not be taken for the primary one.
    ns_sh(wire.a, "ip", "-4", "addr", "flush", "dev", "eth0")
    loop.run(lambda: mgr.add_vips([VIP]))
    ns_sh(wire.a, "ip", "addr", "add", f"{wire.A4}/24", "dev", "eth0")
    ns_sh(wire.a, "ip", "addr", "add", "10.77.0.9/24", "dev", "eth0")  # secondary
    info = loop.run(lambda: get_interface(nl, "eth0"))
    mac = sh("ip", "-n", wire.a, "-br", "link", "show", "eth0").stdout.split()[2]
    assert info is not None
    assert info.mac == bytes.fromhex(mac.replace(":", ""))
    assert info.ifindex == int(sh("ip", "netns", "exec", wire.a, "cat",
                                  "/sys/class/net/eth0/ifindex").stdout)
    assert info.up
    assert info.primary_ipv4(exclude={VIP.address}) == ipaddress.IPv4Address(wire.A4)
    assert info.link_local_ipv6() == ipaddress.IPv6Address(wire.link_local(wire.a))
    assert info.global_ipv6() == ipaddress.IPv6Address(wire.A6)
    assert info.has_address(VIP.address)
    assert loop.run(lambda: get_interface(nl, "nope0")) is None


def _unread_messages(nl: Netlink) -> int:
    """Netlink messages queued for no request: pyroute2 0.9 puts a reply whose request has
    already finished (e.g. the kernel's ACK after a 'get' answer) in its root queue, which
    nothing in the daemon ever reads."""
    ipr = nl._ipr
    return 0 if ipr is None else ipr.msg_queue.root.qsize()


def test_failovers_leave_no_netlink_messages_behind(address_host):
    """Issue 9's long run: every VIP add/remove left one message behind, forever (~2 per
    failover on both daemons)."""
    _wire, loop, nl, mgr = address_host
    for _ in range(50):
        assert loop.run(lambda: mgr.add_vips([VIP])) == []
        assert loop.run(lambda: mgr.remove_vips([VIP])) == []
        assert loop.run(lambda: mgr.remove_leftovers([VIP])) == []
        assert loop.run(lambda: get_interface(nl, "eth0")) is not None
    loop.run(lambda: asyncio.sleep(0.05))  # let late datagrams arrive
    assert loop.run(lambda: mgr.present_vips([VIP])) == set()
    assert loop.call(lambda: _unread_messages(nl)) == 0
