"""The garp_master_* schedule, timed against a recording announcer (no network needed)."""

from __future__ import annotations

import asyncio
import ipaddress
import time

from astlinux_ha.net.announce import AnnounceResult
from astlinux_ha.net.garp_schedule import AnnouncementSchedule, GarpPlan

VIPS = (ipaddress.IPv4Address("10.77.0.244"),)


class RecordingAnnouncer:
    """Stands in for Announcer: records (time, ifname, vips, repeat) of every burst."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str, tuple, int]] = []
        self.t0 = time.monotonic()

    async def announce(self, ifname, vips, repeat=1):
        self.calls.append((time.monotonic() - self.t0, ifname, tuple(vips), repeat))
        return AnnounceResult(sent=repeat * len(vips))


def run(coro):
    return asyncio.run(coro)


def test_first_burst_second_burst_then_refresh():
    async def main():
        rec = RecordingAnnouncer()
        sched = AnnouncementSchedule(rec)
        sched.start_master("VI_1", "eth0", VIPS, GarpPlan(repeat=5, delay=0.1, refresh=0.1,
                                                         refresh_repeat=2))
        await asyncio.sleep(0.45)
        assert sched.active("VI_1")
        sched.stop("VI_1")
        await asyncio.sleep(0)
        assert not sched.active("VI_1")
        return rec.calls

    calls = run(main())
    assert [c[3] for c in calls[:4]] == [5, 5, 2, 2]
    assert calls[0][0] < 0.05
    assert 0.09 <= calls[1][0] < 0.2
    assert 0.19 <= calls[2][0] < 0.3
    assert all(c[1:3] == ("eth0", VIPS) for c in calls)


def test_defaults_are_keepalived_and_plan_ends_without_refresh():
    assert GarpPlan() == GarpPlan(repeat=5, delay=5.0, refresh=0.0, refresh_repeat=1)

    async def main():
        rec = RecordingAnnouncer()
        sched = AnnouncementSchedule(rec)
        sched.start_master("VI_1", "eth0", VIPS, GarpPlan(repeat=1, delay=0))  # vrrp_min_garp
        await asyncio.sleep(0.05)
        return rec.calls, sched.active("VI_1")

    calls, active = run(main())
    assert [c[3] for c in calls] == [1]
    assert not active


def test_leaving_master_cancels_the_second_burst():
    async def main():
        rec = RecordingAnnouncer()
        sched = AnnouncementSchedule(rec)
        sched.start_master("VI_1", "eth0", VIPS, GarpPlan(delay=0.1))
        await asyncio.sleep(0.02)
        sched.stop("VI_1")
        await asyncio.sleep(0.15)
        return rec.calls

    assert len(run(main())) == 1


def test_restart_replaces_and_lower_prio_burst_is_delayed():
    async def main():
        rec = RecordingAnnouncer()
        results = []
        sched = AnnouncementSchedule(rec, on_result=lambda name, r: results.append((name, r.sent)))
        sched.start_master("VI_1", "eth0", VIPS, GarpPlan(repeat=3, delay=0.1))
        sched.start_master("VI_1", "eth0", VIPS, GarpPlan(repeat=4, delay=0))
        sched.announce_once("VI_1", "eth0", VIPS, repeat=2, delay=0.05)
        await asyncio.sleep(0.15)
        sched.stop_all()
        return rec.calls, results

    calls, results = run(main())
    # The first plan was cancelled before it ran; the replacement and the extra burst ran.
    assert [c[3] for c in calls] == [4, 2]
    assert calls[1][0] >= 0.045
    assert results == [("VI_1", 4), ("VI_1", 2)]
