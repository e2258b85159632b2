"""Many VIPs set and removed in one call (issue 16: a 200-instance takeover), inside a
namespace: each address reads as a plain pyroute2 request set it, every one is set and removed,
and each failure is reported against its own VIP."""

from __future__ import annotations

import errno
import ipaddress
from collections import Counter

import pytest

from astlinux_ha.net.addresses import Vip, broadcast_for, scope_id
from lab.netns import sh

pytestmark = [pytest.mark.root]

A4 = ipaddress.ip_address("10.79.0.5")
A6 = ipaddress.ip_address("fd79::5")
VARIANTS = [
    Vip(A4, 32, "eth0"),
    Vip(A4, 32, "eth0", label="eth0:10"),
    Vip(A4, 24, "eth0", broadcast=broadcast_for(A4, 24), scope=scope_id("link"),
        label="eth0:11"),
    Vip(A4, 24, "eth0", noprefixroute=True),
    Vip(A4, 32, "eth0", scope=scope_id("host"), nodad=True),
    Vip(A6, 64, "eth0", nodad=True),
    Vip(A6, 128, "eth0", noprefixroute=True),
    Vip(A6, 64, "eth0", scope=scope_id("site")),
]


def shown(ns: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    family = "-4" if address.version == 4 else "-6"
    out = sh("ip", "-n", ns, "-d", family, "addr", "show", "dev", "eth0").stdout
    lines = out.splitlines()
    # An address line and the lifetimes line after it.
    return [f"{line.strip()} | {lines[i + 1].strip()}" for i, line in enumerate(lines)
            if line.strip().startswith("inet") and f" {address}/" in line]


def routes(ns: str) -> str:
    return sh("ip", "-n", ns, "route", "show", "table", "all").stdout


def pyroute2_args(vip: Vip, index: int) -> dict[str, object]:
    """What the daemon asked pyroute2's addr("add") for before (issue 16)."""
    args: dict[str, object] = {"index": index, "address": str(vip.address),
                               "prefixlen": vip.prefixlen, "scope": vip.scope}
    if vip.broadcast is not None:
        args["broadcast"] = str(vip.broadcast)
    if vip.label:
        args["label"] = vip.label
    flags = (0x02 if vip.nodad else 0) | (0x200 if vip.noprefixroute else 0)
    if flags:
        args["flags"] = flags
    return args


@pytest.mark.parametrize("vip", VARIANTS, ids=str)
def test_an_address_reads_as_it_did_when_pyroute2_set_it(address_host, vip):
    wire, loop, nl, mgr = address_host
    index = loop.run(lambda: nl.ifindex("eth0"))
    assert loop.run(lambda: nl.request("addr", "add", **pyroute2_args(vip, index))) == 0
    before, before_routes = shown(wire.a, vip.address), routes(wire.a)
    assert len(before) == 1
    assert loop.run(lambda: mgr.remove_vips([vip])) == []
    assert shown(wire.a, vip.address) == []
    assert loop.run(lambda: mgr.add_vips([vip])) == []
    assert shown(wire.a, vip.address) == before
    assert routes(wire.a) == before_routes


def test_hundreds_of_vips_in_one_call_are_all_set_and_removed(address_host):
    wire, loop, _nl, mgr = address_host
    vips = [Vip(ipaddress.ip_address(f"10.80.{n // 250}.{n % 250 + 1}"), 32, "eth0")
            for n in range(607)]
    assert loop.run(lambda: mgr.add_vips(vips)) == []
    out = sh("ip", "-n", wire.a, "-4", "addr", "show", "dev", "eth0").stdout
    assert sum(f" {v.address}/32 " in out for v in vips) == len(vips)
    assert loop.run(lambda: mgr.present_vips(vips)) == set(vips)
    assert loop.run(lambda: mgr.add_vips(vips)) == []  # all there already: EEXIST is done
    assert loop.run(lambda: mgr.remove_vips(vips)) == []
    assert loop.run(lambda: mgr.present_vips(vips)) == set()
    assert loop.run(lambda: mgr.remove_vips(vips)) == []  # all gone already


def test_each_failure_is_reported_against_its_own_vip(address_host):
    _wire, loop, _nl, mgr = address_host
    good = [Vip(ipaddress.ip_address(f"10.81.0.{n}"), 32, "eth0") for n in range(1, 101)]
    # The kernel refuses an IPv4 prefix past 32 (EINVAL) wherever it sits in the call; a
    # missing interface never reaches the kernel.
    bad = Vip(ipaddress.ip_address("10.81.2.1"), 33, "eth0")
    ghost = Vip(ipaddress.ip_address("10.81.1.1"), 32, "nope0")
    batch = [*good[:3], bad, *good[3:90], ghost, bad, *good[90:]]
    failures = loop.run(lambda: mgr.add_vips(batch))
    assert Counter((f.item, f.reason) for f in failures) == Counter({
        (ghost, "no interface nope0"): 1,
        (bad, f"Invalid argument ({errno.errorcode[errno.EINVAL]})"): 2})
    assert loop.run(lambda: mgr.present_vips(good)) == set(good)


def test_a_closed_channel_opens_a_new_socket(address_host):
    _wire, loop, nl, mgr = address_host
    vip = VARIANTS[0]
    assert loop.run(lambda: mgr.add_vips([vip])) == []
    loop.call(nl.close)
    assert loop.call(lambda: nl._ipr) is None
    assert loop.run(lambda: mgr.remove_vips([vip])) == []
    assert loop.run(lambda: mgr.present_vips([vip])) == set()
