"""A sync group's FAULT notifies (issue 14): pulling the cable of one member's interface puts
that member in FAULT, and with it the group: the group's notify_fault runs, its notify script
gets ``GROUP G1 FAULT 0`` and the FIFO ``GROUP "G1" FAULT 0``, as keepalived does.
(test_sync_group_notifies.py covers the group's start and stop.)"""

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
ADVERT_INT = 0.1

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
    notify_fault "{KD}/log.sh group-fault"
    notify "{KD}/log.sh group-notify"
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 50
    version 3
    priority 100
    advert_int {ADVERT_INT}
    virtual_ipaddress {{
        10.10.50.244/32 dev eth0
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth1
    virtual_router_id 51
    version 3
    priority 100
    advert_int {ADVERT_INT}
    virtual_ipaddress {{
        10.10.60.244/32 dev eth1
    }}
}}
"""


def _lines(box, path: str) -> list[str]:
    return box.read(path).splitlines() if box.exists(path) else []


@each_daemon
def test_member_cable_pull_runs_group_fault_notifies(lab, daemon):
    box = lab.add_box("master", "10.10.50.62/24")
    lab.switch.add_bridge("br60")
    box.add_interface("eth1", "br60", "qmaster")
    box.run(["ip", "addr", "add", "10.10.60.62/24", "dev", "eth1"])
    daemons.install_config(box, CONF)
    box.write(f"{KD}/reader.sh", f'#!/bin/sh\nexec cat "$1" > {FIFO_LINES}\n', mode=0o755)
    box.write(f"{KD}/log.sh", f'#!/bin/sh\necho "$*" >> {RUNS}\n', mode=0o755)
    proc = daemons.start(box, daemon)
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
