"""runtime.signals: SIGHUP coalescing and the stop rule as flags."""

from __future__ import annotations

from astlinux_ha.runtime.signals import Farewell, Hup, Signals, farewell


def test_a_burst_during_a_reload_asks_for_exactly_one_more() -> None:
    s = Signals()
    assert s.hup() is Hup.START
    s.next_pass()
    assert [s.hup() for _ in range(5)] == [Hup.QUEUE] * 5
    assert s.another_pass()
    s.next_pass()
    assert not s.another_pass()  # nothing came during the second pass
    assert s.reload_done(changed=True)
    assert s.hup() is Hup.START  # the next SIGHUP starts a reload of its own


def test_signals_before_the_first_pass_are_that_pass() -> None:
    s = Signals()
    s.hup()
    s.hup()
    s.next_pass()
    assert not s.another_pass()


def test_a_stop_ignores_later_sighups_and_ends_the_passes() -> None:
    s = Signals()
    s.hup()
    s.next_pass()
    s.hup()
    s.stop()
    assert not s.another_pass()
    assert s.hup() is Hup.IGNORE
    assert not s.reload_done(changed=True)  # no heap settle on the way out


def test_only_a_reload_still_loading_is_cancelled() -> None:
    s = Signals()
    assert not s.cancels_reload()
    s.hup()
    assert not s.cancels_reload()  # switching runtimes: finished first
    s.loading = True
    assert s.cancels_reload()


def test_a_refused_config_needs_no_settle() -> None:
    s = Signals()
    s.hup()
    assert not s.reload_done(changed=False)


def test_how_instances_leave() -> None:
    assert farewell(True) is Farewell.SHUTDOWN
    assert farewell(False) is Farewell.PRIORITY_0
