"""Sync-group notifies at start and stop (issue 14 item 6): at start the group's notify_backup
runs, its notify script gets ``GROUP G1 BACKUP 0`` and the FIFO ``GROUP "G1" BACKUP 0``; on
SIGTERM the group's notify_stop runs and its notify script gets ``GROUP G1 STOP 0``, as
keepalived does (ours ran the instances' alone)."""

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

CONF = f"""global_defs {{
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
    notify_backup "{KD}/log.sh group-backup"
    notify_master "{KD}/log.sh group-master"
    notify_stop "{KD}/log.sh group-stop"
    notify "{KD}/log.sh group-notify"
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 50
    priority 100
    advert_int 1
    virtual_ipaddress {{
        10.10.50.244/32 dev eth0
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {{
        10.10.50.245/32 dev eth0
    }}
}}
"""


def _lines(box, path: str) -> list[str]:
    return box.read(path).splitlines() if box.exists(path) else []


@each_daemon
def test_group_notifies_at_start_and_stop(lab, daemon):
    box = lab.add_box("master", "10.10.50.62/24")
    daemons.install_config(box, CONF)
    box.write(f"{KD}/reader.sh", f'#!/bin/sh\nexec cat "$1" > {FIFO_LINES}\n', mode=0o755)
    box.write(f"{KD}/log.sh", f'#!/bin/sh\necho "$*" >> {RUNS}\n', mode=0o755)
    proc = daemons.start(box, daemon)
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
