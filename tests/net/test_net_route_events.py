"""The link watcher in a namespace reports the deletion of our (proto keepalived) routes, and
nothing for anyone else's route changes (issue 14 item 2)."""

from __future__ import annotations

import ipaddress

import pytest
from test_net_links import watched  # noqa: F401 - the fixture

from astlinux_ha.net.links import RouteEvent
from lab.netns import ns_sh

pytestmark = [pytest.mark.root]


def test_only_the_deletion_of_our_routes_is_reported(watched):  # noqa: F811
    wire, loop, rec, start = watched
    loop.run(start)
    gw = wire.B4  # the other end of the wire
    # An admin's static routes (added, deleted) and one of ours added: nothing reported.
    ns_sh(wire.a, "ip", "route", "add", "192.168.110.0/24", "via", gw, "dev", "eth0")
    ns_sh(wire.a, "ip", "route", "del", "192.168.110.0/24")
    ns_sh(wire.a, "ip", "route", "add", "192.168.102.0/24", "via", gw, "dev", "eth0",
          "proto", "keepalived")
    ns_sh(wire.a, "ip", "route", "add", "blackhole", "192.168.105.0/24", "table", "100",
          "proto", "keepalived")
    ns_sh(wire.a, "ip", "route", "del", "192.168.102.0/24")
    ns_sh(wire.a, "ip", "route", "del", "blackhole", "192.168.105.0/24", "table", "100")
    hole = loop.run(lambda: rec.wait_for(
        lambda e: isinstance(e, RouteEvent) and e.kind == "blackhole"))
    routes = [e for e in rec.events if isinstance(e, RouteEvent)]
    assert routes == [
        RouteEvent(ipaddress.ip_network("192.168.102.0/24"), 254, "unicast",
                   ipaddress.ip_address(gw), "eth0", None),
        hole,
    ]
    assert (hole.dst, hole.table, hole.ifname) == (
        ipaddress.ip_network("192.168.105.0/24"), 100, None)
