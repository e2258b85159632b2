"""VIPs and routes are tracked (issue 14 item 2), ours and keepalived 2.2.7 in the same test:

* a VIP deleted by hand on the master comes back (keepalived goes MASTER -> BACKUP -> MASTER
  with a quick down timer, one skew time), and with ``no_track`` it stays gone;
* a deleted ``virtual_routes`` entry comes back the same way;
* a VIP on another interface than the instance's (``dev eth1`` in an eth0 instance) makes that
  link tracked: its cable pulled, the instance goes to FAULT and both VIPs move to the backup.
"""

from __future__ import annotations

import time

import pytest
from lab_plugin import each_daemon

from lab import daemons
from lab.box import wait_until

pytestmark = pytest.mark.keepalived

VIP = "10.10.50.244"
LOOSE = "10.10.50.245"  # no_track
VIP60 = "10.10.60.244"
ROUTE = "192.168.102.0/24"


def _conf(priority: int, state: str, addresses: str, routes: str = "") -> str:
    return f"""global_defs {{
   router_id ASTLINUX
}}
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 50
    version 3
    priority {priority}
    advert_int 0.1
    virtual_ipaddress {{
{addresses}
    }}
{routes}
}}
"""


def _route_present(box) -> bool:
    return ROUTE in box.run(["ip", "route", "show", ROUTE]).stdout


@each_daemon
def test_vip_deleted_on_the_master_comes_back(lab, daemon):
    box = lab.add_box("master", "10.10.50.62/24")
    daemons.install_config(box, _conf(100, "MASTER", f"        {VIP}/32 dev eth0\n"
                                                     f"        {LOOSE}/32 dev eth0 no_track"))
    proc = daemons.start(box, daemon)
    assert wait_until(lambda: box.holds(VIP) and box.holds(LOOSE), 10), proc.log_text()
    masters = proc.log_text().count("Entering MASTER STATE")
    start = time.monotonic()
    box.run(["ip", "addr", "del", f"{VIP}/32", "dev", "eth0"])
    assert wait_until(lambda: box.holds(VIP), 3), proc.log_text()
    took = time.monotonic() - start
    log = proc.log_text()
    # Put back through BACKUP and MASTER again, as keepalived's set_vrrp_backup does.
    assert log.count("Entering MASTER STATE") == masters + 1, log
    assert "(VI_1) Entering BACKUP STATE" in log, log
    print(f"{daemon.value}: VIP back after {took:.2f} s")
    # no_track: the instance does not leave MASTER, and the address stays gone until the
    # next transition to MASTER.
    box.run(["ip", "addr", "del", f"{LOOSE}/32", "dev", "eth0"])
    time.sleep(1.0)
    assert not box.holds(LOOSE), proc.log_text()
    assert proc.log_text().count("Entering MASTER STATE") == masters + 1, proc.log_text()
    assert box.holds(VIP)


@each_daemon
def test_virtual_route_deleted_on_the_master_comes_back(lab, daemon):
    box = lab.add_box("master", "10.10.50.62/24")
    routes = f"    virtual_routes {{\n        {ROUTE} via 10.10.50.1 dev eth0\n    }}"
    daemons.install_config(box, _conf(100, "MASTER", f"        {VIP}/32 dev eth0", routes))
    proc = daemons.start(box, daemon)
    assert wait_until(lambda: box.holds(VIP) and _route_present(box), 10), proc.log_text()
    masters = proc.log_text().count("Entering MASTER STATE")
    start = time.monotonic()
    box.run(["ip", "route", "del", ROUTE])
    assert wait_until(lambda: _route_present(box), 3), proc.log_text()
    took = time.monotonic() - start
    log = proc.log_text()
    assert log.count("Entering MASTER STATE") == masters + 1, log
    print(f"{daemon.value}: route back after {took:.2f} s")
    assert "proto keepalived" in box.run(["ip", "route", "show", ROUTE]).stdout


def _pair_on_two_lans(lab, daemon, addresses: str, extra: str = ""):
    master, backup = lab.add_box("master", "10.10.50.62/24"), lab.add_box("backup",
                                                                          "10.10.50.65/24")
    lab.switch.add_bridge("br60")
    for box, host in ((master, "10.10.60.62/24"), (backup, "10.10.60.65/24")):
        box.add_interface("eth1", "br60", f"q{box.name}")
        box.run(["ip", "addr", "add", host, "dev", "eth1"])
    daemons.install_config(master, _conf(100, "MASTER", addresses, extra))
    daemons.install_config(backup, _conf(99, "BACKUP", addresses, extra))
    procs = daemons.start(master, daemon), daemons.start(backup, daemon)
    lab.wait_for_holders(VIP, ["master"], 10)
    lab.wait_for_holders(VIP60, ["master"], 5)
    return master, procs


@each_daemon
@pytest.mark.parametrize("extra", ["", "    dont_track_primary"],
                         ids=["tracked", "dont_track_primary"])
def test_vip_on_another_interface_tracks_its_link(lab, daemon, extra):
    # dont_track_primary is about the instance's own interface: the VIP's link stays tracked.
    master, (mproc, bproc) = _pair_on_two_lans(
        lab, daemon, f"        {VIP}/32 dev eth0\n        {VIP60}/32 dev eth1", extra)
    master.pull_cable("eth1")
    took = lab.wait_for_holders(VIP60, ["backup"], 5)
    lab.wait_for_holders(VIP, ["backup"], 1)
    assert "Entering FAULT STATE" in mproc.log_text(), mproc.log_text()
    print(f"{daemon.value}: both VIPs on the backup {took:.2f} s after the eth1 pull")
    master.replug_cable("eth1")
    lab.wait_for_holders(VIP60, ["master"], 5)
    lab.wait_for_holders(VIP, ["master"], 1)
    assert bproc.alive


@each_daemon
def test_a_no_track_vip_leaves_its_link_untracked(lab, daemon):
    master, (mproc, _) = _pair_on_two_lans(
        lab, daemon, f"        {VIP}/32 dev eth0\n        {VIP60}/32 dev eth1 no_track")
    master.pull_cable("eth1")
    time.sleep(1.0)  # ten advert intervals
    assert lab.holders(VIP) == ["master"], mproc.log_text()
    assert "FAULT" not in mproc.log_text(), mproc.log_text()


GROUP_CONF = """global_defs {
   router_id ASTLINUX
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
}
""" + "".join(f"""vrrp_instance VI_{n} {{
    state MASTER
    interface eth0
    virtual_router_id {49 + n}
    priority 100
    advert_int 1
    virtual_ipaddress {{
        {vip}/32 dev eth0
    }}
}}
""" for n, vip in ((1, VIP), (2, "10.10.50.246")))


@each_daemon
def test_vip_deleted_in_a_sync_group_brings_the_group_back(lab, daemon):
    box = lab.add_box("master", "10.10.50.62/24")
    daemons.install_config(box, GROUP_CONF)
    proc = daemons.start(box, daemon)
    assert wait_until(lambda: box.holds(VIP) and box.holds("10.10.50.246"), 10), (
        proc.log_text())
    time.sleep(1.0)
    before = proc.log_text().count("(VI_2) Entering MASTER STATE")
    start = time.monotonic()
    box.run(["ip", "addr", "del", f"{VIP}/32", "dev", "eth0"])
    # The other member steps down with it and is back as quickly (keepalived's
    # set_vrrp_backup moves the whole group).
    assert wait_until(lambda: proc.log_text().count("(VI_2) Entering MASTER STATE") > before
                      and box.holds(VIP) and box.holds("10.10.50.246"), 5), proc.log_text()
    took = time.monotonic() - start
    assert "(VI_2) Entering BACKUP STATE" in proc.log_text(), proc.log_text()
    print(f"{daemon.value}: the group back after {took:.2f} s")
    # One skew time (0.61 s at priority 100), not a master-down interval (3.6 s).
    assert took < 1.5, proc.log_text()
