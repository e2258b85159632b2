"""Our rtnetlink decoder against pyroute2's, on the same kernel answers, inside a namespace:
every field the daemon reads of a link or an address comes out the same (issue 16 moved the
link watcher and the interface reads off pyroute2's decoder)."""

from __future__ import annotations

import socket

import pytest

from astlinux_ha.net.interfaces import if_address_from_msg
from astlinux_ha.net.netlink import Netlink
from astlinux_ha.net.pyroute2_lite import AsyncIPRoute
from lab.netns import NetnsLoop, Wire, ns_sh

pytestmark = [pytest.mark.root]

# As the daemon reads them: header fields by msg[...], attributes by msg.get(...) (pyroute2's
# get("flags") of an address prefers its IFA_FLAGS attribute; nothing here asks that).
LINK_FIELDS = ("index", "flags", "family")
LINK_ATTRS = ("ifname", "address", "operstate")
ADDR_FIELDS = ("index", "family", "prefixlen", "flags", "scope")
ADDR_ATTRS = ("address", "local", "label")


@pytest.fixture
def host():
    wire = Wire()
    try:
        wire.build()
        # What a box has: secondaries, labels, a peer address, flags above 8 bits, IPv6.
        for args in (["10.90.0.1/24", "dev", "eth0", "label", "eth0:1"],
                     ["10.90.0.2/24", "dev", "eth0"],
                     ["10.90.1.1", "peer", "10.90.1.2/32", "dev", "eth0"],
                     ["10.90.2.1/24", "dev", "eth0", "noprefixroute", "scope", "link"],
                     ["fd90::1/64", "dev", "eth0", "nodad"]):
            ns_sh(wire.a, "ip", "addr", "add", *args)
        # A down link too (no dummy driver on every kernel: a veth pair).
        ns_sh(wire.a, "ip", "link", "add", "vq0", "type", "veth", "peer", "name", "vq1")
        with NetnsLoop(wire.a) as loop:
            yield loop
    finally:
        wire.destroy()


def test_links_and_addresses_read_as_pyroute2_reads_them(host):
    loop = host

    async def both() -> tuple[list, list, list, list]:
        ipr = AsyncIPRoute()
        nl = Netlink()
        try:
            theirs_links = [m async for m in await ipr.link("dump")]
            theirs_addrs = [m for family in (socket.AF_INET, socket.AF_INET6)
                            async for m in await ipr.addr("dump", family=family)]
            ours_links = await nl.links()
            ours_addrs = [*await nl.addresses(socket.AF_INET),
                          *await nl.addresses(socket.AF_INET6)]
        finally:
            ipr.close()
            nl.close()
        return theirs_links, theirs_addrs, ours_links, ours_addrs

    theirs_links, theirs_addrs, ours_links, ours_addrs = loop.run(both)
    assert len(theirs_links) >= 3 and len(theirs_addrs) >= 7

    def fields(msgs, names, attrs):
        return [{**{n: m[n] for n in names}, **{n: m.get(n) for n in attrs}} for m in msgs]

    assert (fields(ours_links, LINK_FIELDS, LINK_ATTRS)
            == fields(theirs_links, LINK_FIELDS, LINK_ATTRS))
    assert (fields(ours_addrs, ADDR_FIELDS, ADDR_ATTRS)
            == fields(theirs_addrs, ADDR_FIELDS, ADDR_ATTRS))
    assert ([m.get_attr("IFA_FLAGS") for m in ours_addrs]
            == [m.get_attr("IFA_FLAGS") for m in theirs_addrs])
    assert ([if_address_from_msg(m) for m in ours_addrs]
            == [if_address_from_msg(m) for m in theirs_addrs])
