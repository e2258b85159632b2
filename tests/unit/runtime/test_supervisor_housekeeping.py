"""The once-a-second housekeeping rides on the adverts' wake-up of the loop (a wake-up costs
a Python daemon more than the tick's work) and keeps its own timer when no advert comes."""

from __future__ import annotations

import asyncio
import ipaddress
import sys

from runtime_fakes import Host, Info, serving

from astlinux_ha.supervisor import HOUSEKEEPING_MIN

MASTER = """vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 50
    priority 255
    advert_int 1
    virtual_ipaddress {
        10.10.50.244/32
    }
}
"""


def _host() -> Host:
    host = Host()
    host.link_up("eth0")
    host.interfaces["eth0"] = Info(ipaddress.ip_address("10.10.50.62"))
    return host


def _record_ticks(sup, seen: list[bool]) -> None:
    tick = sup._tick

    def recording() -> None:
        frame, inside = sys._getframe(1), False
        while frame is not None:
            inside |= frame.f_code.co_name == "_fire"
            frame = frame.f_back
        seen.append(inside)
        tick()

    sup._tick = recording


def test_housekeeping_runs_in_the_wake_up_of_the_adverts(tmp_path):
    async def main() -> list[bool]:
        seen: list[bool] = []
        async with serving(tmp_path, MASTER, _host()) as d:
            _record_ticks(d.sup, seen)
            await asyncio.sleep(4.6)
        return seen

    seen = asyncio.run(main())
    # The first may run on its own timer (before the grid's beat is found), then on the grid,
    # whatever the adverts' phase against the start.
    assert len(seen) >= 3 and all(seen[1:]), seen


def test_an_advert_just_before_the_due_time_costs_one_own_timer_tick_only(tmp_path):
    async def main() -> list[bool]:
        seen: list[bool] = []
        async with serving(tmp_path, MASTER, _host()) as d:
            advert = asyncio.Event()
            d.sup.shared.ticks.after_fire.append(advert.set)
            await advert.wait()
            beat = d.sup.clock.time()
            # Due 10 ms after the next beat: that advert misses it, the own timer ticks.
            d.sup._arm_housekeeping(beat + 1.0 + 0.01 - HOUSEKEEPING_MIN)
            _record_ticks(d.sup, seen)
            await asyncio.sleep(4.5)
        return seen

    seen = asyncio.run(main())
    # Then a beat within the catch window takes it (before, it slid a little each own-timer
    # tick and missed several beats).
    assert len(seen) >= 3 and not seen[0] and all(seen[1:]), seen


def test_without_adverts_housekeeping_still_runs_on_its_own_timer(tmp_path):
    async def main() -> list[bool]:
        seen: list[bool] = []
        backup = MASTER.replace("priority 255", "priority 100").replace("MASTER", "BACKUP")
        async with serving(tmp_path, backup, _host()) as d:
            _record_ticks(d.sup, seen)
            await asyncio.sleep(3.3)  # a backup alone: no advert before 3.6 s
        return seen

    seen = asyncio.run(main())
    assert len(seen) >= 2 and not any(seen), seen
