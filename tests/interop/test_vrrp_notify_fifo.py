"""vrrp_notify_fifo with its vrrp_notify_fifo_script: the daemon starts the reader on the FIFO
and writes the instance's transitions into it, ours as keepalived's."""

from __future__ import annotations

import pytest
from lab_plugin import each_daemon

from lab import daemons
from lab.box import wait_until

pytestmark = pytest.mark.keepalived

KD = "/mnt/kd/keepalived"
FIFO = "/tmp/keepalived-vrrp.fifo"
LINES = "/var/state/keepalived/vrrp-fifo-lines"

CONF = f"""global_defs {{
    router_id ASTLINUX
    enable_script_security
    script_user root root
    vrrp_notify_fifo {FIFO}
    vrrp_notify_fifo_script {KD}/reader.sh
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 50
    version 3
    priority 100
    advert_int 0.1
    virtual_ipaddress {{
        10.10.50.244/32 dev eth0
    }}
}}
"""


@each_daemon
def test_the_vrrp_fifo_script_reads_the_transitions(lab, daemon):
    box = lab.add_box("master", "10.10.50.62/24")
    daemons.install_config(box, CONF)
    box.write(f"{KD}/reader.sh", f'#!/bin/sh\nexec cat "$1" > {LINES}\n', mode=0o755)
    proc = daemons.start(box, daemon)

    def lines() -> list[str]:
        return box.read(LINES).splitlines() if box.exists(LINES) else []

    assert wait_until(lambda: 'INSTANCE "VI_1" MASTER 100' in lines(), 10), (
        lines(), proc.log_text())
    assert lines()[:2] == ['INSTANCE "VI_1" BACKUP 100', 'INSTANCE "VI_1" MASTER 100']
