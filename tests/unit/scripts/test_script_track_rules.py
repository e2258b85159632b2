"""keepalived's rise/fall counter and the TrackScript reporting (weights: vrrp/tracking)."""

from __future__ import annotations

import pytest

from astlinux_ha.scripts.runner import RunnableScript, RunResult
from astlinux_ha.scripts.track import (
    RiseFall,
    TrackScript,
    TrackScriptSpec,
    TrackStatus,
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


def test_track_script_reports_changes_and_timeouts() -> None:
    user = ScriptUser(0, 0, (0,), "root")
    seen: list[TrackStatus] = []
    spec = TrackScriptSpec("chk", RunnableScript(("/bin/true",), user), fall=2)
    track = TrackScript(spec, seen.append)
    assert track.up is None
    track.record(RunResult(0, False))
    track.record(RunResult(None, True))
    assert seen == [TrackStatus("chk", True)]
    track.record(RunResult(1, False))
    assert seen == [TrackStatus("chk", True), TrackStatus("chk", False)]
    assert track.up is False
    spec = TrackScriptSpec("x", RunnableScript(("/bin/true",), user), interval=2)
    assert spec.effective_timeout == 2
