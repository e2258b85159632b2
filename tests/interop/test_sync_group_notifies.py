"""A sync group's own notifies (issue 14), as keepalived runs them:
- at start the group's notify_backup runs, its notify script gets ``GROUP G1 BACKUP 0`` and
  the FIFO ``GROUP "G1" BACKUP 0``; on SIGTERM its notify_stop runs and its notify script gets
  ``GROUP G1 STOP 0`` (ours ran the instances' alone);
- pulling the cable of one member's interface puts that member in FAULT, and with it the
  group: the group's notify_fault runs, its notify script gets ``GROUP G1 FAULT 0`` and the
  FIFO ``GROUP "G1" FAULT 0``."""

from __future__ import annotations

import pytest
from lab_plugin import each_daemon

from lab import daemons
from lab.box import wait_until

pytestmark = pytest.mark.keepalived

KD = "/mnt/kd/keepalived"
FIFO = "/tmp/keepalived.fifo"
STATE = "/var/state/keepalived"
FIFO_LINES = f"{STATE}/fifo-lines"
RUNS = f"{STATE}/runs"
ADVERT_INT = 0.1  # the FAULT test's; the start test keeps 1 s, see there


def _conf(notifies: list[str], advert: str, second_if: str) -> str:
    """The group G1 of VI_1 (eth0) and VI_2 (``second_if``), each ``notifies`` line running
    log.sh with its own name."""
    group = "".join(f'    {n} "{KD}/log.sh group-{n.removeprefix("notify_") or "notify"}"\n'
                    for n in notifies)
    second = "10.10.60.244" if second_if == "eth1" else "10.10.50.245"

    def instance(name: str, ifname: str, vrid: int, vip: str) -> str:
        return f"""vrrp_instance {name} {{
    state BACKUP
    interface {ifname}
    virtual_router_id {vrid}
{advert}    priority 100
    virtual_ipaddress {{
        {vip}/32 dev {ifname}
    }}
}}
"""

    return (f"""global_defs {{
    router_id ASTLINUX
    enable_script_security
    script_user root root
    notify_fifo {FIFO}
    notify_fifo_script {KD}/reader.sh
}}
vrrp_sync_group G1 {{
    group {{
        VI_1
        VI_2
    }}
{group}}}
""" + instance("VI_1", "eth0", 50, "10.10.50.244") + instance("VI_2", second_if, 51, second))


def _start(lab, daemon, conf: str, eth1: bool = False):
    """A box with the FIFO reader and the notify logger, running ``daemon`` on ``conf``."""
    box = lab.add_box("master", "10.10.50.62/24")
    if eth1:
        lab.switch.add_bridge("br60")
        box.add_interface("eth1", "br60", "qmaster")
        box.run(["ip", "addr", "add", "10.10.60.62/24", "dev", "eth1"])
    daemons.install_config(box, conf)
    box.write(f"{KD}/reader.sh", f'#!/bin/sh\nexec cat "$1" > {FIFO_LINES}\n', mode=0o755)
    box.write(f"{KD}/log.sh", f'#!/bin/sh\necho "$*" >> {RUNS}\n', mode=0o755)
    return box, daemons.start(box, daemon)


def _lines(box, path: str) -> list[str]:
    return box.read(path).splitlines() if box.exists(path) else []


@each_daemon
def test_group_notifies_at_start_and_stop(lab, daemon):
    # advert_int 1: the FIFO's start lines are read before any member can become master.
    conf = _conf(["notify_backup", "notify_master", "notify_stop", "notify"],
                 "    advert_int 1\n", "eth0")
    box, proc = _start(lab, daemon, conf)
    # Start: the group is BACKUP before any member can become master (3 s away here).
    assert wait_until(lambda: 'GROUP "G1" BACKUP 0' in _lines(box, FIFO_LINES), 2), (
        _lines(box, FIFO_LINES), proc.log_text())
    assert wait_until(lambda: {"group-backup", "group-notify GROUP G1 BACKUP 0"} <= set(
        _lines(box, RUNS)), 2), (_lines(box, RUNS), proc.log_text())
    fifo_at_start = _lines(box, FIFO_LINES)
    print(daemon.name, "start FIFO:", fifo_at_start, "runs:", _lines(box, RUNS))
    # The group first, then its members (keepalived's order).
    assert fifo_at_start == ['GROUP "G1" BACKUP 0', 'INSTANCE "VI_1" BACKUP 100',
                                     'INSTANCE "VI_2" BACKUP 100'], fifo_at_start
    assert wait_until(lambda: 'GROUP "G1" MASTER 0' in _lines(box, FIFO_LINES), 10), (
        _lines(box, FIFO_LINES), proc.log_text())
    before = len(_lines(box, RUNS))
    proc.stop()
    stop_runs = _lines(box, RUNS)[before:]
    print(daemon.name, "stop runs:", stop_runs, "FIFO:", _lines(box, FIFO_LINES))
    assert {"group-stop", "group-notify GROUP G1 STOP 0"} <= set(stop_runs), (
        stop_runs, proc.log_text())


@each_daemon
def test_member_cable_pull_runs_group_fault_notifies(lab, daemon):
    conf = _conf(["notify_fault", "notify"],
                 f"    version 3\n    advert_int {ADVERT_INT}\n", "eth1")
    box, proc = _start(lab, daemon, conf, eth1=True)
    # Alone on both LANs: the group is MASTER after one master-down interval (~0.4 s).
    assert wait_until(lambda: 'GROUP "G1" MASTER 0' in _lines(box, FIFO_LINES), 10), (
        _lines(box, FIFO_LINES), proc.log_text())
    assert "group-fault" not in _lines(box, RUNS), (_lines(box, RUNS), proc.log_text())
    fifo_before, runs_before = len(_lines(box, FIFO_LINES)), len(_lines(box, RUNS))

    box.pull_cable("eth1")
    # Carrier loss is seen from netlink at once; a few adverts' worth covers a loaded box.
    deadline = 30 * ADVERT_INT
    assert wait_until(lambda: 'GROUP "G1" FAULT 0' in _lines(box, FIFO_LINES)[fifo_before:],
                      deadline), (_lines(box, FIFO_LINES), proc.log_text())
    assert wait_until(lambda: {"group-fault", "group-notify GROUP G1 FAULT 0"} <= set(
        _lines(box, RUNS)[runs_before:]), deadline), (_lines(box, RUNS), proc.log_text())
    print(daemon.name, "FIFO after pull:", _lines(box, FIFO_LINES)[fifo_before:],
          "runs:", _lines(box, RUNS)[runs_before:])
    assert "(VI_2) Entering FAULT STATE" in proc.log_text(), proc.log_text()
