"""Tracking on a sync group (issue 14 item 1): the group's track_interface and track_script
are every member's, so the tracked link going down, or the script failing, on the master puts
the group in FAULT and both VIPs move to the backup, as keepalived does (ours stayed MASTER)."""

from __future__ import annotations

import time

import pytest
from lab_plugin import each_daemon

from lab import daemons

pytestmark = pytest.mark.keepalived

VIPS = ("10.10.50.244", "10.10.50.245")
FLAG = "/var/state/keepalived/chk-ok"


def conf(priority: int, *, tracks: bool) -> str:
    group_tracks = """    track_interface {
        eth1
    }
    track_script {
        chk
    }
""" if tracks else ""
    instances = "".join(f"""vrrp_instance VI_{n} {{
    state BACKUP
    interface eth0
    virtual_router_id {49 + n}
    version 3
    priority {priority}
    advert_int 0.1
    virtual_ipaddress {{
        {vip}/32 dev eth0
    }}
}}
""" for n, vip in enumerate(VIPS, 1))
    return f"""global_defs {{
    router_id ASTLINUX
    enable_script_security
    script_user root root
}}
vrrp_script chk {{
    script "/usr/bin/test -e {FLAG}"
    interval 1
    fall 1
    rise 1
}}
vrrp_sync_group G1 {{
    group {{
        VI_1
        VI_2
    }}
{group_tracks}}}
{instances}"""


def _wait_both(lab, holder: str, timeout: float) -> float:
    return max(lab.wait_for_holders(vip, [holder], timeout) for vip in VIPS)


@pytest.mark.parametrize("fails", ["interface", "script"])
@each_daemon
def test_a_sync_groups_track_moves_both_vips(lab, daemon, fails):
    master, backup, _client = lab.add_seed_boxes()
    # The master's second interface: a veth whose peer stays in the box, so pulling it is
    # taking the peer down (eth1 loses its carrier).
    master.run("ip link add eth1 type veth peer name eth1p && ip link set eth1p up && "
               "ip link set eth1 up")
    daemons.install_config(master, conf(100, tracks=True))
    daemons.install_config(backup, conf(90, tracks=False))
    master.run(["touch", FLAG])
    procs = [daemons.start(master, daemon), daemons.start(backup, daemon)]
    try:
        _wait_both(lab, "master", 15)
    except Exception as exc:
        raise AssertionError([p.log_text() for p in procs]) from exc
    start = time.monotonic()
    if fails == "interface":
        master.run("ip link set eth1p down")
    else:
        master.run(["rm", "-f", FLAG])
    try:
        _wait_both(lab, "backup", 5)
    except Exception as exc:
        raise AssertionError([p.log_text() for p in procs]) from exc
    took = time.monotonic() - start
    print(f"{daemon.name} {fails}: both VIPs on the backup {took:.2f}s after the failure")
    # The group stays in FAULT on the master while the object is down: nothing comes back.
    time.sleep(1.0)
    assert lab.holders(VIPS[0]) == ["backup"] and lab.holders(VIPS[1]) == ["backup"]
    if fails == "interface":
        master.run("ip link set eth1p up")
    else:
        master.run(["touch", FLAG])
    # Recovered, the master (priority 100, preempting) takes both back.
    try:
        _wait_both(lab, "master", 10)
    except Exception as exc:
        raise AssertionError([p.log_text() for p in procs]) from exc


def weighted_conf() -> str:
    text = conf(100, tracks=True).replace("    fall 1\n", "    fall 1\n    weight -20\n")
    return text.replace("    track_interface {\n        eth1\n    }\n", "")


@each_daemon
def test_a_weighted_group_track_moves_every_members_priority(lab, daemon):
    # A group's weighted track_script is every member's, weight and all (keepalived's
    # sync_group_tracking_init): failing, it lowers both members' advertised priority.
    box = lab.add_box("master", "10.10.50.62/24")
    daemons.install_config(box, weighted_conf())
    box.run(["touch", FLAG])
    proc = daemons.start(box, daemon)
    try:
        for vip in VIPS:
            lab.wait_for_holders(vip, ["master"], 10)
    except Exception as exc:
        raise AssertionError(proc.log_text()) from exc
    box.run(["rm", "-f", FLAG])
    time.sleep(2.0)
    with lab.capture() as cap:
        time.sleep(0.5)
    prios = {(p.payload[1], p.payload[2]) for p in cap.packets()}  # VRID, priority
    assert prios == {(50, 80), (51, 80)}, (prios, proc.log_text())
    assert lab.holders(VIPS[0]) == ["master"] and lab.holders(VIPS[1]) == ["master"]
