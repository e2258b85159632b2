"""mcast_src_ip on another interface (issue 14 item 7): an eth0 instance whose mcast_src_ip is
eth1's address runs MASTER and sends from that address, as keepalived does (it sat in FAULT)."""

from __future__ import annotations

import time

import pytest
from lab_plugin import each_daemon

from lab import Daemon, daemons
from lab.box import wait_until

pytestmark = pytest.mark.keepalived

VIP = "10.10.50.244"
ELSEWHERE = "10.10.60.1"
CONF = f"""global_defs {{
   router_id ASTLINUX
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 50
    version 3
    priority 100
    advert_int 0.1
    mcast_src_ip {ELSEWHERE}
    virtual_ipaddress {{
        {VIP}/32 dev eth0
    }}
}}
"""


@each_daemon
def test_source_address_on_another_interface(lab, daemon):
    box = lab.add_box("master", "10.10.50.62/24")
    # A second interface of the box (a veth with both ends inside, so it has a carrier).
    box.run("ip link add eth1 type veth peer name eth1p && ip link set eth1p up && "
            "ip addr add 10.10.60.1/24 dev eth1 && ip link set eth1 up")
    daemons.install_config(box, CONF)
    proc = daemons.start(box, daemon)
    assert wait_until(lambda: box.holds(VIP), 10), proc.log_text()
    assert "Entering MASTER STATE" in proc.log_text()
    with lab.capture() as cap:
        time.sleep(0.5)
    sources = {p.src for p in cap.packets()}
    assert sources == {ELSEWHERE}, sources
    # Removed from eth1, the source is gone: FAULT, the VIP goes.
    box.run(f"ip addr del {ELSEWHERE}/24 dev eth1")
    if daemon is Daemon.ASTLINUX_HA:
        assert wait_until(lambda: not box.holds(VIP), 5), proc.log_text()
        # The cause is in the syslog line itself, not only in transitions.jsonl (item 7).
        assert f"(VI_1) Entering FAULT STATE (source address {ELSEWHERE} down)" in (
            proc.log_text()), proc.log_text()
