"""vrrp_startup_delay (issue 14 item 3): nothing runs for that long after start, and the log
says so, as keepalived's; a stop during the delay ends the daemon at once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from lab_plugin import each_daemon

from lab import Daemon, daemons
from lab.box import wait_until

pytestmark = pytest.mark.keepalived

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived"
VIP = "10.10.50.244"
DELAY = 1.5


def conf(delay: float | None) -> str:
    text = daemons.with_advert((SEED / "keepalived.conf.master").read_text(),
                               "advert_int 0.1", "version 3")
    if delay is not None:
        text = text.replace("global_defs {\n", f"global_defs {{\n   vrrp_startup_delay {delay}\n")
    return text


def vip_after_start(box, daemon: Daemon, delay: float | None):
    daemons.install_config(box, conf(delay))
    started = time.monotonic()
    proc = daemons.start(box, daemon)
    assert wait_until(lambda: box.holds(VIP), 15), proc.log_text()
    return time.monotonic() - started, proc


@each_daemon
def test_startup_delay_holds_the_instances_back(lab, daemon):
    box = lab.add_box("master", "10.10.50.62/24")
    took, proc = vip_after_start(box, daemon, DELAY)
    assert f"Delaying startup for {DELAY:g} seconds" in proc.log_text()
    # A lone master takes its VIP one master-down interval (~0.4 s here) after the delay.
    assert DELAY < took < DELAY + 2.0, took
    proc.stop()
    quick, proc = vip_after_start(box, daemon, None)
    assert quick < DELAY, quick
    proc.stop()


def test_a_stop_during_the_delay_ends_the_daemon_at_once(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    daemons.install_config(box, conf(30))
    proc = daemons.start(box, Daemon.ASTLINUX_HA)
    assert wait_until(lambda: "Delaying startup" in proc.log_text(), 15), proc.log_text()
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert wait_until(lambda: not proc.alive(), 5)
    assert time.monotonic() - started < 2.0
    assert not box.holds(VIP)
