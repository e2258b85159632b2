"""keepalived's rise/fall counter and weight rules, as pure functions."""

from __future__ import annotations

import pytest

from astlinux_ha.scripts.runner import RunResult, ScriptCommand
from astlinux_ha.scripts.track import (
    PriorityOutcome,
    RiseFall,
    TrackedWeight,
    TrackScript,
    TrackSpec,
    TrackStatus,
    effective_priority,
)
from astlinux_ha.scripts.users import ScriptUser


def run(counter: RiseFall, results: str) -> list[bool | None]:
    return [counter.record(ch == "+") for ch in results]


def test_first_result_decides() -> None:
    assert run(RiseFall(3, 2), "+") == [True]
    assert run(RiseFall(3, 2), "-") == [False]


def test_fall_needs_consecutive_failures_from_the_top() -> None:
    counter = RiseFall(2, 3)
    assert run(counter, "+---") == [True, None, None, False]
    assert not counter.up


def test_rise_needs_consecutive_successes_from_zero() -> None:
    counter = RiseFall(3, 1)
    assert run(counter, "-") == [False]
    assert run(counter, "++-++") == [None, None, None, None, None]
    assert run(counter, "+") == [True]


def test_a_success_resets_the_fall_count() -> None:
    counter = RiseFall(1, 3)
    assert run(counter, "+--+--") == [True, None, None, None, None, None]
    assert run(counter, "-") == [False]


def test_init_fail_starts_down_and_reports_only_the_rise() -> None:
    counter = RiseFall(2, 2, init_fail=True)
    assert not counter.up
    assert run(counter, "-++") == [None, None, True]


def test_rise_and_fall_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RiseFall(0, 1)


@pytest.mark.parametrize(
    ("base", "tracked", "expected"),
    [
        (100, [TrackedWeight(10, True)], PriorityOutcome(110, False, False)),
        (100, [TrackedWeight(10, False)], PriorityOutcome(100, False, False)),
        (100, [TrackedWeight(-30, False)], PriorityOutcome(70, False, False)),
        (100, [TrackedWeight(-30, True)], PriorityOutcome(100, False, False)),
        (100, [TrackedWeight(10, True, reverse=True)], PriorityOutcome(90, False, False)),
        (100, [TrackedWeight(-10, False, reverse=True)], PriorityOutcome(110, False, False)),
        (250, [TrackedWeight(20, True)], PriorityOutcome(254, False, False)),
        (10, [TrackedWeight(-50, False)], PriorityOutcome(1, False, False)),
        (255, [TrackedWeight(-50, False)], PriorityOutcome(255, False, False)),
        (100, [TrackedWeight(0, False)], PriorityOutcome(100, True, False)),
        (100, [TrackedWeight(0, True, reverse=True)], PriorityOutcome(100, True, False)),
        (100, [TrackedWeight(0, None)], PriorityOutcome(100, False, True)),
        (100, [TrackedWeight(20, None)], PriorityOutcome(100, False, False)),
        (
            100,
            [TrackedWeight(20, True), TrackedWeight(-5, False), TrackedWeight(0, True)],
            PriorityOutcome(115, False, False),
        ),
    ],
)
def test_effective_priority(
    base: int, tracked: list[TrackedWeight], expected: PriorityOutcome
) -> None:
    assert effective_priority(base, tracked) == expected


def test_track_script_reports_changes_and_timeouts() -> None:
    user = ScriptUser(0, 0, (0,), "root")
    seen: list[TrackStatus] = []
    track = TrackScript(TrackSpec("chk", ScriptCommand(("/bin/true",), user), fall=2), seen.append)
    assert track.up is None
    track.record(RunResult(0, False))
    track.record(RunResult(None, True))
    assert seen == [TrackStatus("chk", True)]
    track.record(RunResult(1, False))
    assert seen == [TrackStatus("chk", True), TrackStatus("chk", False)]
    assert track.up is False
    assert TrackSpec("x", ScriptCommand(("/bin/true",), user), interval=2).effective_timeout == 2
