"""The shared advert grids: one loop timer for every master due at a grid point, no deadline
ever later than asked, a lone key exactly on time."""

from __future__ import annotations

import random

from astlinux_ha.runtime.ticks import AdvertTicks
from tests.unit.runtime.test_instance_shell import FakeClock


class Periodic:
    """A master's advert as the runner drives it: due, then re-armed one interval on."""

    def __init__(self, ticks: AdvertTicks, clock: FakeClock, name: str, interval: float,
                 log: list[tuple[str, float]]) -> None:
        self.ticks, self.clock, self.name, self.interval, self.log = (
            ticks, clock, name, interval, log)
        self.handle = None

    def arm(self, at: float) -> None:
        self.handle = self.ticks.call_at(self.name, self.interval, at, self.due)

    def due(self) -> None:
        self.log.append((self.name, self.clock.time()))
        self.arm(self.clock.time() + self.interval)


def sent(log: list[tuple[str, float]], name: str) -> list[float]:
    return [round(t, 6) for n, t in log if n == name]


def test_a_lone_master_keeps_its_own_timing_even_after_an_off_cycle_advert():
    clock, log = FakeClock(0.0), []
    ticks = AdvertTicks(clock)
    a = Periodic(ticks, clock, "a", 1.0, log)
    a.arm(1.0)
    clock.advance(2.5)
    a.arm(2.5 + 1.0)  # a priority change sent an advert at 2.5 and re-armed from it
    clock.advance(6.0)
    assert sent(log, "a") == [1.0, 2.0, 3.5, 4.5, 5.5]


def test_masters_of_one_interval_share_one_loop_timer_and_none_is_late():
    clock, log = FakeClock(0.0), []
    ticks = AdvertTicks(clock)
    a = Periodic(ticks, clock, "a", 1.0, log)
    b = Periodic(ticks, clock, "b", 1.0, log)
    a.arm(1.0)
    b.arm(1.4)  # joins a's grid point 1.0: earlier than asked, never later
    assert len(clock.pending()) == 1
    clock.advance(4.0)
    assert sent(log, "a") == sent(log, "b") == [1.0, 2.0, 3.0, 4.0]
    assert len(clock.pending()) == 1
    assert ticks.grids() == {1.0: 2}


def test_other_intervals_get_grids_of_their_own():
    clock, log = FakeClock(0.0), []
    ticks = AdvertTicks(clock)
    Periodic(ticks, clock, "a", 1.0, log).arm(1.0)
    Periodic(ticks, clock, "b", 0.1, log).arm(0.25)
    clock.advance(1.0)
    assert sent(log, "b") == [0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95]
    assert sent(log, "a") == [1.0]


def test_a_cancelled_key_never_fires_and_the_next_one_still_does():
    clock, log = FakeClock(0.0), []
    ticks = AdvertTicks(clock)
    a = Periodic(ticks, clock, "a", 1.0, log)
    b = Periodic(ticks, clock, "b", 1.0, log)
    a.arm(1.0)
    b.arm(1.5)
    clock.advance(1.2)
    assert sent(log, "a") == sent(log, "b") == [1.0]
    a.handle.cancel()
    a.handle.cancel()  # twice is harmless
    clock.advance(3.0)
    assert sent(log, "a") == [1.0]
    assert sent(log, "b") == [1.0, 2.0, 3.0]
    b.handle.cancel()
    assert clock.pending() == [] and ticks.grids() == {}


def test_cancelling_the_earliest_deadline_moves_the_loop_timer_to_the_next():
    clock, log = FakeClock(0.0), []
    ticks = AdvertTicks(clock)
    a = Periodic(ticks, clock, "a", 1.0, log)
    b = Periodic(ticks, clock, "b", 1.0, log)
    a.arm(1.0)
    clock.advance(1.0)  # a re-armed for 2.0
    b.arm(1.9999)  # the latest grid point not after 1.9999 is 1.0, now
    assert [round(h.when, 6) for h in clock.pending()] == [1.0]
    b.handle.cancel()
    assert [round(h.when, 6) for h in clock.pending()] == [2.0]
    clock.advance(2.0)
    assert sent(log, "a") == [1.0, 2.0] and sent(log, "b") == []


def test_a_re_arm_moves_the_one_deadline_a_key_has():
    clock, log = FakeClock(0.0), []
    ticks = AdvertTicks(clock)
    a = Periodic(ticks, clock, "a", 1.0, log)
    b = Periodic(ticks, clock, "b", 1.0, log)
    a.arm(1.0)
    b.arm(3.0)
    b.arm(2.0)
    clock.advance(3.5)
    assert sent(log, "b") == [2.0, 3.0]
    assert ticks.grids() == {1.0: 2}


def test_random_arms_are_never_late_and_never_more_than_an_interval_early():
    rng = random.Random(16)
    clock = FakeClock(0.0)
    ticks = AdvertTicks(clock)
    fired: dict[str, float] = {}
    asked: dict[str, float] = {}
    handles: dict[str, object] = {}
    names = [f"k{i}" for i in range(30)]

    def due(name: str) -> None:
        fired[name] = clock.time()
        assert asked[name] - 1.0 - 1e-9 <= clock.time() <= asked[name] + 1e-9
        del asked[name]

    now = 0.0
    for _ in range(2000):
        now += rng.uniform(0.0, 0.2)
        clock.advance(now)
        name = rng.choice(names)
        if name in asked and rng.random() < 0.2:
            handles[name].cancel()
            del asked[name]
            continue
        at = now + 1.0
        asked[name] = at
        handles[name] = ticks.call_at(name, 1.0, at, lambda n=name: due(n))
    clock.advance(now + 2.0)
    assert not asked
    assert clock.pending() == [] and ticks.grids() == {}



def test_a_late_wake_up_does_not_push_the_next_adverts_back():
    clock, log = FakeClock(0.0), []
    ticks = AdvertTicks(clock)
    a = Periodic(ticks, clock, "a", 0.05, log)

    def late_due() -> None:
        log.append(("a", clock.time()))
        clock.now += 0.004 if len(log) == 2 else 0.0003  # the loop woke late, once badly
        a.ticks.call_at("a", 0.05, clock.now + 0.05, late_due)

    ticks.call_at("a", 0.05, 0.05, late_due)
    clock.advance(0.26)
    assert sent(log, "a") == [0.05, 0.1, 0.15, 0.2, 0.25]


def test_after_fire_hooks_run_once_after_each_grid_point_s_callbacks():
    clock, log = FakeClock(0.0), []
    ticks = AdvertTicks(clock)
    Periodic(ticks, clock, "a", 1.0, log).arm(1.0)
    Periodic(ticks, clock, "b", 1.0, log).arm(1.0)
    ticks.after_fire.append(lambda: log.append(("hook", clock.time())))
    clock.advance(2.5)
    assert [name for name, _ in log] == ["a", "b", "hook", "a", "b", "hook"]
