"""Reload semantics (issue 14 item 9): a reload that changes only an instance's VIPs swaps
them in place, as keepalived does: the master keeps its old VIP answering without a gap, the
new one appears, and no notify is sent (ours restarted the instance: STOP / BACKUP / MASTER
notifies and the VIP gone for a master-down interval). A reload that deletes an instance
notifies FAULT for it and nothing else (ours added STOP)."""

from __future__ import annotations

import signal
import time

import pytest
from lab_plugin import each_daemon

from lab import daemons
from lab.box import wait_until

pytestmark = pytest.mark.keepalived

KD = "/mnt/kd/keepalived"
FIFO = "/tmp/keepalived.fifo"
LINES = "/var/state/keepalived/fifo-lines"
VIP, NEW_VIP, OTHER_VIP = "10.10.50.244", "10.10.50.246", "10.10.50.245"


def instance(name: str, vrid: int, priority: int, vips: list[str]) -> str:
    listed = "".join(f"        {v}/32 dev eth0\n" for v in vips)
    return f"""vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    version 3
    priority {priority}
    advert_int 0.2
    virtual_ipaddress {{
{listed}    }}
}}
"""


def conf(*instances: str) -> str:
    return f"""global_defs {{
    router_id ASTLINUX
    enable_script_security
    script_user root root
    notify_fifo {FIFO}
    notify_fifo_script {KD}/reader.sh
}}
{"".join(instances)}"""


def _lines(box) -> list[str]:
    return box.read(LINES).splitlines() if box.exists(LINES) else []


def _reader(box) -> None:
    box.write(f"{KD}/reader.sh", f'#!/bin/sh\nexec cat "$1" >> {LINES}\n', mode=0o755)


@each_daemon
def test_a_reload_adding_a_vip_swaps_it_in_place(lab, daemon):
    master, backup, client = lab.add_seed_boxes()
    daemons.install_config(master, conf(instance("VI_1", 50, 100, [VIP])))
    daemons.install_config(backup, conf(instance("VI_1", 50, 90, [VIP])))
    _reader(master)
    procs = [daemons.start(master, daemon), daemons.start(backup, daemon)]
    lab.wait_for_holders(VIP, ["master"], 15)
    assert wait_until(lambda: 'INSTANCE "VI_1" MASTER 100' in _lines(master), 5), (
        _lines(master), procs[0].log_text())
    before = _lines(master)
    with lab.pinger(client, VIP) as ping:
        time.sleep(0.5)
        # Both boxes, as an admin does (keepalived's backup drops adverts whose VIP count
        # differs from its own, and would take over within its master-down interval).
        daemons.install_config(master, conf(instance("VI_1", 50, 100, [VIP, NEW_VIP])))
        daemons.install_config(backup, conf(instance("VI_1", 50, 90, [VIP, NEW_VIP])))
        _reader(master)
        _reader(backup)
        reloaded = time.monotonic()
        procs[0].send_signal(signal.SIGHUP)
        procs[1].send_signal(signal.SIGHUP)
        appeared = lab.wait_for_holders(NEW_VIP, ["master"], 5)
        time.sleep(1.5)  # longer than a restart's master-down interval (3 x 0.2 s + skew)
        report = ping.stop()
    print(f"{daemon.name}: new VIP on the master {appeared:.2f}s after SIGHUP; "
          f"longest ping gap {report.longest_gap:.3f}s; FIFO after: {_lines(master)[len(before):]}")
    assert lab.holders(VIP) == ["master"], [p.log_text() for p in procs]
    assert report.longest_gap < 0.1, (report.gaps(), procs[0].log_text())
    assert time.monotonic() - reloaded > 1.5
    # No notify at all: the instance never left MASTER.
    assert _lines(master) == before, (_lines(master), procs[0].log_text())


@each_daemon
def test_a_reload_deleting_an_instance_notifies_fault_only(lab, daemon):
    box = lab.add_box("master", "10.10.50.62/24")
    both = conf(instance("VI_1", 50, 100, [VIP]), instance("VI_2", 51, 100, [OTHER_VIP]))
    daemons.install_config(box, both)
    _reader(box)
    proc = daemons.start(box, daemon)
    assert wait_until(lambda: 'INSTANCE "VI_2" MASTER 100' in _lines(box)
                      and 'INSTANCE "VI_1" MASTER 100' in _lines(box), 10), (
        _lines(box), proc.log_text())
    before = len(_lines(box))
    daemons.install_config(box, conf(instance("VI_1", 50, 100, [VIP])))
    _reader(box)
    proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: not box.holds(OTHER_VIP), 5), proc.log_text()
    time.sleep(1.0)
    after = _lines(box)[before:]
    print(f"{daemon.name}: FIFO after the reload: {after}")
    assert after == ['INSTANCE "VI_2" FAULT 100'], (after, proc.log_text())
    assert box.holds(VIP)
