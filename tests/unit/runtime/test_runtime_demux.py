"""runtime.demux: which instance each packet, link, address and track result goes to."""

from __future__ import annotations

import ipaddress
import socket

from astlinux_ha.runtime.demux import (
    Demux,
    Route,
    address_event,
    family,
    link_event,
    track_event,
    tracking,
)
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.tracking import TrackKind, TrackSpec


def demux() -> Demux:
    d = Demux()
    d.reindex([("VI_1", "eth0", socket.AF_INET, 50), ("VI_6", "eth0", socket.AF_INET6, 50),
               ("VI_2", "", socket.AF_INET, 51)])
    return d


def test_packets_go_by_interface_family_and_vrid() -> None:
    d = demux()
    assert d.packet("eth0", 4, b"\x21\x32") == Route("VI_1")
    assert d.packet("eth0", 6, b"\x31\x32") == Route("VI_6")
    assert d.packet("", 4, b"\x21\x33") == Route("VI_2")
    assert d.counters == {}


def test_what_no_instance_takes_is_counted() -> None:
    d = demux()
    assert d.packet("eth0", 4, b"\x21") == Route()
    assert d.packet("eth0", 4, b"\x21\x07") == Route(unknown_vrid=7)
    assert d.packet("eth1", 4, b"\x21\x32") == Route(unknown_vrid=50)
    # An unbound socket hears every VRRP packet: another VRID is the bound sockets' to count.
    assert d.packet("", 4, b"\x21\x07") == Route()
    assert d.counters == {"short packet": 1, "unknown vrid": 2}


def test_reindex_replaces_the_index() -> None:
    d = demux()
    d.reindex([("VI_3", "eth1", socket.AF_INET, 3)])
    assert d.packet("eth0", 4, b"\x21\x32").target is None
    assert d.packet("eth1", 4, b"\x21\x03").target == "VI_3"


def test_a_link_back_with_another_index_is_reported_once() -> None:
    d = Demux()
    assert not d.ifindex_changed("eth0", 2, True)  # first seen
    assert not d.ifindex_changed("eth0", 2, True)
    assert not d.ifindex_changed("eth0", 2, False)  # deleted: the old index is kept
    assert d.ifindex_changed("eth0", 7, True)  # re-created
    assert not d.ifindex_changed("eth0", 7, True)


def test_events_go_to_the_instances_tracking_them() -> None:
    tracks = {
        "VI_1": (TrackSpec(TrackKind.INTERFACE, "eth0"), TrackSpec(TrackKind.SCRIPT, "chk")),
        "VI_2": (TrackSpec(TrackKind.INTERFACE, "eth1"), TrackSpec(TrackKind.ADDRESS, "10.0.0.1")),
        "VI_3": (TrackSpec(TrackKind.INTERFACE, "eth0"),),
    }
    assert tracking(tracks, TrackKind.INTERFACE, "eth0") == ("VI_1", "VI_3")
    assert tracking(tracks, TrackKind.SCRIPT, "chk") == ("VI_1",)
    assert tracking(tracks, TrackKind.ADDRESS, "10.0.0.1") == ("VI_2",)
    assert tracking(tracks, TrackKind.SCRIPT, "eth0") == ()  # the kind counts too


def test_the_core_events() -> None:
    ip = ipaddress.ip_address("10.0.0.1")
    assert link_event("eth0", True) == core.InterfaceUp("eth0")
    assert link_event("eth0", False) == core.InterfaceDown("eth0")
    assert address_event(ip, False) == core.SourceAddress(ip, False)
    assert track_event("chk", True) == core.TrackResult("chk", True)
    assert (family(socket.AF_INET), family(socket.AF_INET6)) == (4, 6)
