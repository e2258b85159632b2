"""Priority-change notifies (issue 14 item 5): with vrrp_notify_priority_changes, a weighted
track script that fails and recovers writes MASTER_PRIORITY lines to the notify FIFO, the
new priority in each, as keepalived's does (it wrote nothing here before)."""

from __future__ import annotations

import pytest
from lab_plugin import each_daemon

from lab import daemons
from lab.box import wait_until

pytestmark = pytest.mark.keepalived

KD = "/mnt/kd/keepalived"
FIFO = "/tmp/keepalived.fifo"
LINES = "/var/state/keepalived/fifo-lines"
FLAG = "/var/state/keepalived/chk-ok"

CONF = f"""global_defs {{
    router_id ASTLINUX
    enable_script_security
    script_user root root
    vrrp_notify_priority_changes
    notify_fifo {FIFO}
    notify_fifo_script {KD}/reader.sh
}}
vrrp_script chk {{
    script "/usr/bin/test -e {FLAG}"
    interval 1
    weight -20
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 50
    version 3
    priority 100
    advert_int 0.1
    track_script {{
        chk
    }}
    virtual_ipaddress {{
        10.10.50.244/32 dev eth0
    }}
}}
"""


def _priority_lines(box) -> list[str]:
    text = box.read(LINES) if box.exists(LINES) else ""
    return [line for line in text.splitlines() if "_PRIORITY" in line]


@each_daemon
def test_weighted_track_notifies_priority_changes(lab, daemon):
    box = lab.add_box("master", "10.10.50.62/24")
    daemons.install_config(box, CONF)
    box.write(f"{KD}/reader.sh", f'#!/bin/sh\nexec cat "$1" > {LINES}\n', mode=0o755)
    box.run(["touch", FLAG])
    proc = daemons.start(box, daemon)
    assert wait_until(lambda: 'INSTANCE "VI_1" MASTER 100' in (
        box.read(LINES) if box.exists(LINES) else ""), 15), proc.log_text()
    box.run(["rm", "-f", FLAG])
    assert wait_until(lambda: _priority_lines(box) == ['INSTANCE "VI_1" MASTER_PRIORITY 80'],
                      5), (_priority_lines(box), proc.log_text())
    box.run(["touch", FLAG])
    assert wait_until(lambda: _priority_lines(box) == ['INSTANCE "VI_1" MASTER_PRIORITY 80',
                                                       'INSTANCE "VI_1" MASTER_PRIORITY 100'],
                      5), (_priority_lines(box), proc.log_text())
