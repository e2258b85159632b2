"""VIPs and routes are tracked (issue 14 item 2): the plan tracks the links of VIPs elsewhere,
the watcher reports the deletion of our routes, and the demux names who owns a deleted VIP
or route (never for no_track)."""

from __future__ import annotations

import ipaddress
import socket

from pyroute2.netlink.rtnl.rtmsg import rtmsg

from astlinux_ha.config import check_text
from astlinux_ha.net.links import RouteEvent, route_deleted
from astlinux_ha.runtime import plan as P
from astlinux_ha.runtime.demux import Owned, deleted_event, route_owners, vip_owners
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.tracking import TrackKind

ip = ipaddress.ip_address
net = ipaddress.ip_network

BODY = """  interface eth0
  virtual_ipaddress {
    10.10.50.244/32 dev eth0
    10.10.60.244/32 dev eth1
    10.10.70.244/32 dev eth2 no_track
  }
  virtual_ipaddress_excluded {
    10.10.80.244/32 dev eth3
  }
  virtual_routes {
    192.168.102.0/24 via 10.10.50.1 dev eth0
    192.168.103.0/24 via 10.10.50.1 dev eth0 table 100 metric 5
    192.168.104.0/24 dev eth0 no_track
    192.168.106.0/24 via 10.10.50.1
  }
"""


def plans(body: str = BODY, head: str = "") -> dict[str, P.InstancePlan]:
    config = check_text(head + "vrrp_instance VI_1 {\n  virtual_router_id 5\n" + body + "}\n"
                        ).config
    assert config is not None and config.instances, "instance dropped"
    return {i.name: P.plan(config, i, frozenset()) for i in config.instances}


def test_the_links_of_vips_elsewhere_are_tracked_unless_no_track() -> None:
    (p,) = plans().values()
    assert [(t.kind, t.name, t.weight) for t in p.tracks] == [
        (TrackKind.INTERFACE, "eth0", 0), (TrackKind.INTERFACE, "eth1", 0),
        (TrackKind.INTERFACE, "eth3", 0)]


def test_a_track_interface_of_a_vips_link_keeps_its_weight() -> None:
    (p,) = plans(BODY + "  track_interface {\n    eth1 weight -20\n  }\n").values()
    assert [(t.name, t.weight) for t in p.tracks] == [("eth0", 0), ("eth1", -20), ("eth3", 0)]


def test_dont_track_primary_still_tracks_the_vips_links() -> None:
    (p,) = plans(BODY + "  dont_track_primary\n").values()
    assert [t.name for t in p.tracks] == ["eth1", "eth3"]


def test_a_deleted_vip_is_its_instances_unless_no_track() -> None:
    ps = plans()
    (owned,) = vip_owners(ps, "eth1", ip("10.10.60.244"))
    assert (owned.name, owned.what, str(owned.item)) == (
        "VI_1", "VIP 10.10.60.244", "10.10.60.244/32 dev eth1")
    assert vip_owners(ps, "eth0", ip("10.10.60.244")) == ()  # the same address elsewhere
    assert vip_owners(ps, "eth2", ip("10.10.70.244")) == ()  # no_track
    assert vip_owners(ps, "eth0", ip("10.10.50.62")) == ()  # the box's own address
    assert [o.what for o in vip_owners(ps, "eth3", ip("10.10.80.244"))] == ["VIP 10.10.80.244"]


def test_a_deleted_route_is_its_instances_by_its_key_fields() -> None:
    ps = plans()

    def owners(**fields: object) -> list[str]:
        event = RouteEvent(**{"table": 254, **fields})  # type: ignore[arg-type]
        return [o.what for o in route_owners(ps, event)]

    r102 = "route 192.168.102.0/24 via 10.10.50.1 dev eth0"
    assert owners(dst=net("192.168.102.0/24"), gateway=ip("10.10.50.1"), ifname="eth0") == [
        r102]
    assert owners(dst=net("192.168.102.0/24"), gateway=ip("10.10.50.9"), ifname="eth0") == []
    assert owners(dst=net("192.168.102.0/24"), gateway=ip("10.10.50.1"), ifname="eth1") == []
    assert owners(dst=net("192.168.102.0/24"), gateway=ip("10.10.50.1"), ifname="eth0",
                  table=100) == []
    # The table and metric the config names must match.
    assert owners(dst=net("192.168.103.0/24"), gateway=ip("10.10.50.1"), ifname="eth0",
                  table=100, metric=5) == ["route 192.168.103.0/24 via 10.10.50.1 dev eth0 "
                                           "metric 5 table 100"]
    assert owners(dst=net("192.168.103.0/24"), gateway=ip("10.10.50.1"), ifname="eth0",
                  table=100, metric=6) == []
    assert owners(dst=net("192.168.103.0/24"), gateway=ip("10.10.50.1"), ifname="eth0",
                  table=100, metric=5, kind="blackhole") == []
    assert owners(dst=net("192.168.104.0/24"), ifname="eth0") == []  # no_track
    # Without a device keepalived cannot track a route ("not tracking" at -t): nor do we.
    assert owners(dst=net("192.168.106.0/24"), gateway=ip("10.10.50.1"), ifname="eth0") == []


def test_the_core_event_names_what_was_deleted() -> None:
    owned = Owned("VI_1", None, "VIP 10.10.50.244")  # type: ignore[arg-type]
    assert deleted_event(owned) == core.VirtualDeleted("VIP 10.10.50.244")


def _route_msg(event: str = "RTM_DELROUTE", proto: int = 18, **fields: object) -> rtmsg:
    msg = rtmsg()
    msg["family"] = fields.pop("family", socket.AF_INET)
    msg["dst_len"] = fields.pop("dst_len", 24)
    msg["proto"] = proto
    msg["table"] = fields.pop("table", 254)
    msg["type"] = fields.pop("type", 1)
    msg["attrs"] = list(fields.pop("attrs", [("RTA_DST", "192.168.102.0"),
                                              ("RTA_GATEWAY", "10.10.50.1"), ("RTA_OIF", 2)]))
    msg["event"] = event
    return msg


def test_the_watcher_reports_the_deletion_of_our_routes_only() -> None:
    names = {2: "eth0"}.get
    assert route_deleted(_route_msg(), names) == RouteEvent(
        net("192.168.102.0/24"), 254, "unicast", ip("10.10.50.1"), "eth0", None)
    assert route_deleted(_route_msg(proto=4), names) is None  # an admin's static route
    assert route_deleted(_route_msg(event="RTM_NEWROUTE"), names) is None
    # table from RTA_TABLE (tables above 255), a metric, a blackhole without gateway or device
    hole = _route_msg(type=6, attrs=[("RTA_DST", "192.168.105.0"), ("RTA_TABLE", 1000),
                                     ("RTA_PRIORITY", 7)])
    assert route_deleted(hole, names) == RouteEvent(net("192.168.105.0/24"), 1000,
                                                    "blackhole", None, None, 7)
    # a default route has no RTA_DST; an IPv6 one too
    assert route_deleted(_route_msg(dst_len=0, attrs=[("RTA_GATEWAY", "10.10.50.1")]),
                         names).dst == net("0.0.0.0/0")
    six = _route_msg(family=socket.AF_INET6, dst_len=64,
                     attrs=[("RTA_DST", "2001:db8:1::"), ("RTA_OIF", 9)])
    assert route_deleted(six, names) == RouteEvent(net("2001:db8:1::/64"), 254, "unicast",
                                                   None, None, None)
