"""The small pieces: timer formulas, weights, the rate limiter, and machine corners."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vrrp_cases import build_params

from astlinux_ha.vrrp import machine, timing
from astlinux_ha.vrrp.machine import step, timers_due
from astlinux_ha.vrrp.model import (
    AdvertReceived,
    InstanceState,
    Role,
    Shutdown,
    Start,
    SyncForce,
    SyncRelease,
    Timer,
    TimerExpired,
)
from astlinux_ha.vrrp.packet import Advert
from astlinux_ha.vrrp.ratelimit import RateLimiter
from astlinux_ha.vrrp.sync import Member, group_step
from astlinux_ha.vrrp.tracking import TrackKind, TrackSpec, effective_priority

# ------------------------------------------------------------------ timing

@given(st.integers(1, 255), st.integers(1, 4095))
def test_skew_is_below_one_interval_and_falls_with_priority(prio, centis):
    master_us = centis * 10_000
    v3 = timing.skew_us(3, prio, master_us)
    assert 0 <= v3 < master_us
    assert 0 <= timing.skew_us(2, prio, 1_000_000) < 1_000_000
    if prio < 255:
        assert timing.skew_us(3, prio, master_us) >= timing.skew_us(3, prio + 1, master_us)
    assert timing.down_us(3, prio, master_us) == 3 * master_us + v3


@pytest.mark.parametrize("version,advert_int,us", [
    (2, 1.0, 1_000_000), (2, 1.4, 1_000_000), (2, 0.2, 1_000_000), (2, 255, 255_000_000),
    (3, 0.01, 10_000), (3, 0.005, 10_000), (3, 40.95, 40_950_000), (3, 1.234, 1_230_000),
])
def test_advert_interval_units(version, advert_int, us):
    assert timing.advert_us(version, advert_int) == us


def test_rfc_example_numbers():
    # priority 200 at 1.5 s: skew (256 - 200) x 1.5 / 256 = 328.125 ms
    assert timing.skew_us(3, 200, 1_500_000) == 328_125
    assert timing.down_us(3, 200, 1_500_000) == 4_828_125
    assert timing.down_us(2, 100, 1_000_000) == 3_609_375
    assert timing.seconds(1_500_000) == 1.5


# ------------------------------------------------------------------ weights

@pytest.mark.parametrize("weight,reverse,up,contribution", [
    (10, False, True, 10), (10, False, False, 0), (-10, False, True, 0),
    (-10, False, False, -10), (10, True, True, -10), (10, True, False, 0),
    (-10, True, True, 0), (-10, True, False, 10), (10, False, None, 0), (0, False, False, 0),
])
def test_weight_table_from_conf5(weight, reverse, up, contribution):
    assert TrackSpec(TrackKind.SCRIPT, "s", weight, reverse).contribution(up) == contribution


@given(st.integers(1, 255), st.lists(st.integers(-253, 253), max_size=5), st.booleans())
def test_effective_priority_is_clamped_and_owner_is_fixed(base, weights, up):
    specs = [TrackSpec(TrackKind.SCRIPT, f"s{i}", w) for i, w in enumerate(weights)]
    status = {s.key: up for s in specs}
    prio = effective_priority(base, specs, status)
    assert prio == 255 if base == 255 else 1 <= prio <= 254


# ------------------------------------------------------------------ rate limiter

def test_rate_limiter_holds_back_and_counts():
    lim = RateLimiter(10.0)
    assert lim.filter("ttl", "bad ttl", 0.0) == "bad ttl"
    assert lim.filter("ttl", "bad ttl", 1.0) is None
    assert lim.filter("ttl", "bad ttl", 2.0) is None
    assert lim.filter("auth", "bad auth", 2.0) == "bad auth"
    assert lim.summaries(5.0) == []
    assert lim.filter("ttl", "bad ttl", 10.0) == "bad ttl (2 similar messages suppressed)"
    assert lim.filter("ttl", "bad ttl", 11.0) is None
    assert lim.summaries(20.0) == [("ttl", 1)]
    assert lim.summaries(20.0) == []
    assert lim.filter("ttl", "bad ttl", 20.0) == "bad ttl"
    lim.reset()
    assert lim.filter("ttl", "bad ttl", 20.5) == "bad ttl"


# ------------------------------------------------------------------ machine corners

SEED = build_params({})
MASTER = build_params({"primary": "10.10.50.62", "priority": 100, "init_state": "MASTER"})


def started(params=SEED, now=0.0):
    return step(params, InstanceState(), Start(), now)[0]


def test_family_and_timers_due():
    assert SEED.family == 4
    state = started()
    assert timers_due(state, 1.0) == []
    assert timers_due(state, 4.0) == [Timer.MASTER_DOWN]


def test_unknown_event_is_a_type_error():
    with pytest.raises(TypeError):
        step(SEED, InstanceState(), object(), 0.0)  # type: ignore[arg-type]


def test_sync_force_master_only_moves_a_backup():
    faulted = step(SEED, InstanceState(), Start(frozenset({(TrackKind.INTERFACE, "eth0")})),
                   0.0)[0]
    state, actions = step(SEED, faulted, SyncForce(Role.MASTER, "x"), 1.0)
    assert state.role is Role.FAULT and actions == []


def test_sync_force_backup_clears_the_wish_to_be_master():
    held, _ = step(SEED, started(), TimerExpired(Timer.MASTER_DOWN), 3.7, may_master=False)
    assert held.wants_master and held.role is Role.BACKUP
    state, actions = step(SEED, held, SyncForce(Role.BACKUP, "x"), 4.0)
    assert not state.wants_master and actions == []


def test_sync_force_fault_before_start_only_marks():
    state, actions = step(SEED, InstanceState(), SyncForce(Role.FAULT, "x"), 0.0)
    assert state.faulted_by_group and state.role is Role.INIT and actions == []
    state, actions = step(SEED, state, SyncRelease(), 0.0)
    assert state.role is Role.INIT and actions == []


def test_group_member_shutdown_leaves_the_group_role_alone():
    a = build_params({"name": "A", "peers": [], "tracks": []})
    b = build_params({"name": "B", "vrid": 51, "peers": [], "tracks": []})
    members = {"A": Member(a, started(a)), "B": Member(b, started(b))}
    result = group_step("G", Role.BACKUP, members, "A", Shutdown(), 1.0)
    assert result.role is Role.BACKUP and result.group_actions == []
    assert result.states["A"].role is Role.INIT and result.states["B"].role is Role.BACKUP


def test_compare_is_by_address_bytes():
    params = build_params({"primary": "10.10.50.9", "priority": 100, "init_state": "MASTER",
                           "peers": []})
    state = step(params, started(params), TimerExpired(Timer.MASTER_DOWN), 4.0)[0]
    assert state.role is Role.MASTER
    # 10.10.50.10 > 10.10.50.9 numerically although "10" < "9" as text
    higher = AdvertReceived(Advert(2, 50, 100, 1, params.vips), ipaddress.ip_address(
        "10.10.50.10"))
    assert step(params, state, higher, 5.0)[0].role is Role.BACKUP


def test_fast_state_replace_matches_dataclasses_replace():
    # machine._replace stands in for dataclasses.replace on the hot path: same result.
    state = InstanceState(role=Role.MASTER, priority=100, timers={Timer.ADVERT: 1.0}, since=0.5)
    changes = {"timers": {Timer.ADVERT: 2.0}, "tracks": {}, "wants_master": True}
    assert machine._replace(state, changes) == dataclasses.replace(state, **changes)
    assert machine._replace(state, {}) == state
