"""Split-brain claims through ARP, decided without sockets: a foreign MAC claiming our VIP
counts only if we are still master of the same mastership a grace period later, and each MAC
is reported once per mastership."""

from __future__ import annotations

import ipaddress

from astlinux_ha.vrrp.claims import (
    ArmConfirm,
    ArmProbe,
    ClaimTracker,
    CloseWatch,
    OpenWatch,
    SplitBrain,
    grace,
    watched,
)

VIP = ipaddress.IPv4Address("10.10.50.244")
SOURCE = ipaddress.IPv4Address("10.10.50.62")
MAC = "02:00:0a:0a:32:41"
OTHER = "02:00:0a:0a:32:42"


def _master(tracker: ClaimTracker, now: float = 10.0) -> int:
    """A mastership whose watch opened on one interface: its tenure."""
    [*_, opening] = tracker.became_master()
    assert isinstance(opening, OpenWatch)
    tracker.opened(1, SOURCE, now)
    return opening.tenure


def test_the_grace_is_one_advert_interval_but_never_under_50_ms():
    assert grace(1_000_000) == 1.0
    assert grace(100_000) == 0.1
    assert grace(10_000) == 0.05  # v3 at 10 ms: the old master's kernel needs longer


def test_only_ipv4_vips_are_watched_grouped_by_interface_in_order():
    v6 = ipaddress.IPv6Address("fd00::1")
    a, b, c = (ipaddress.IPv4Address(f"10.0.0.{i}") for i in (3, 1, 2))
    assert watched([("eth0", a), ("eth1", b), ("eth0", v6), ("eth0", c)]) == {
        "eth0": [a, c], "eth1": [b]}
    assert watched([("eth0", v6)]) == {}


def test_a_mastership_opens_a_watch_that_an_ended_one_never_opens():
    tracker = ClaimTracker("VI_1", 1_000_000)
    [opening] = tracker.became_master()
    assert opening == OpenWatch(tracker.tenure)
    assert tracker.may_open(opening.tenure, master=True)
    assert not tracker.may_open(opening.tenure, master=False)
    assert tracker.left_master(later=True) == []  # never opened: nothing to close
    assert not tracker.may_open(opening.tenure, master=True)


def test_the_probe_goes_out_a_grace_after_the_watch_opened_from_a_real_ipv4_source():
    tracker = ClaimTracker("VI_1", 2_000_000)
    tracker.became_master()
    assert tracker.opened(2, SOURCE, 10.0) == [ArmProbe(12.0, SOURCE)]
    for source in (ipaddress.IPv4Address("0.0.0.0"), ipaddress.IPv6Address("fe80::1")):
        tracker.became_master()
        assert tracker.opened(1, source, 10.0) == []
    # Opened even without a probe: leaving master closes it.
    assert tracker.left_master(later=False) == [CloseWatch(later=False)]


def test_a_watch_where_no_interface_opened_has_nothing_to_close_or_probe():
    tracker = ClaimTracker("VI_1", 1_000_000)
    tracker.became_master()
    assert tracker.opened(0, SOURCE, 10.0) == []
    assert tracker.left_master(later=True) == []


def test_a_new_mastership_closes_the_open_watch_first_later_on_the_chain():
    tracker = ClaimTracker("VI_1", 1_000_000)
    first = _master(tracker)
    actions = tracker.became_master()
    assert actions == [CloseWatch(later=True), OpenWatch(tracker.tenure)]
    assert tracker.tenure != first


def test_a_foreign_claim_is_confirmed_a_grace_later_and_logged_once_per_mac():
    tracker = ClaimTracker("VI_1", 1_000_000)
    tenure = _master(tracker)
    assert tracker.claim(VIP, MAC, tenure, 20.0) == [ArmConfirm(VIP, MAC, tenure, 21.0)]
    assert tracker.claim(VIP, MAC, tenure, 20.5) == []  # already pending
    assert tracker.claim(VIP, OTHER, tenure, 20.5) == [ArmConfirm(VIP, OTHER, tenure, 21.5)]
    [brain] = tracker.confirm(VIP, MAC, tenure, master=True)
    assert brain == SplitBrain(VIP, MAC, (
        "(VI_1) split brain: 10.10.50.244 is also held by 02:00:0a:0a:32:41, a master that "
        "does not hear our adverts (is VRRP blocked between them?)"))
    assert tracker.claim(VIP, MAC, tenure, 30.0) == []  # reported in this mastership


def test_the_next_mastership_reports_the_same_mac_again():
    tracker = ClaimTracker("VI_1", 1_000_000)
    tenure = _master(tracker)
    tracker.claim(VIP, MAC, tenure, 20.0)
    assert tracker.confirm(VIP, MAC, tenure, master=True)
    tracker.left_master(later=True)
    tenure = _master(tracker)
    assert tracker.claim(VIP, MAC, tenure, 40.0) == [ArmConfirm(VIP, MAC, tenure, 41.0)]


def test_a_claim_is_dropped_if_we_handed_over_before_the_grace_ended():
    tracker = ClaimTracker("VI_1", 1_000_000)
    tenure = _master(tracker)
    tracker.claim(VIP, MAC, tenure, 20.0)
    # Still this tenure (the transition's bookkeeping not reached yet) but no longer master.
    assert tracker.confirm(VIP, MAC, tenure, master=False) == []
    tracker.left_master(later=True)
    assert tracker.confirm(VIP, MAC, tenure, master=True) == []


def test_claims_seen_by_an_ended_mastership_s_watcher_are_ignored():
    tracker = ClaimTracker("VI_1", 1_000_000)
    old = _master(tracker)
    tracker.left_master(later=True)
    new = _master(tracker)
    assert tracker.claim(VIP, MAC, old, 20.0) == []
    assert tracker.claim(VIP, MAC, new, 20.0) == [ArmConfirm(VIP, MAC, new, 21.0)]
