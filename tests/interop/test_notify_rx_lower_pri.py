"""notify_master_rx_lower_pri for real (issue 14): after a split brain heals, the higher-priority
master hears the lower one's advert and runs its notify_master_rx_lower_pri script, as
keepalived does. The script appends its arguments to a file, so the test sees it ran.

Healing both ways at once is a race: if the lower master hears the higher one first it yields
before it adverts, and the higher one never hears a lower priority (keepalived lost it about
half the time). So the heal lets the lower master's adverts through first, then the rest."""

from __future__ import annotations

import pytest
from lab_plugin import each_daemon

from lab import daemons
from lab._host import sh
from lab.box import wait_until

pytestmark = pytest.mark.keepalived

KD = "/mnt/kd/keepalived"
RUNS = "/var/state/keepalived/rx-lower-runs"
VIP = "10.10.50.244"
ADVERT_INT = 0.1
# Master-down is 3 adverts plus skew (~0.35 s here); the split brain and its healing each take
# a handful of those. Generous multiples so a loaded 2-core box does not flake.
SPLIT_DEADLINE = 60 * ADVERT_INT
HEAL_DEADLINE = 40 * ADVERT_INT


def _conf(priority: int) -> str:
    return f"""global_defs {{
    router_id ASTLINUX
    enable_script_security
    script_user root root
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 50
    version 3
    priority {priority}
    advert_int {ADVERT_INT}
    notify_master_rx_lower_pri "{KD}/rx-lower.sh rx-lower-pri"
    virtual_ipaddress {{
        {VIP}/32 dev eth0
    }}
}}
"""


_ONE_WAY = "rx-lower-test one-way"


def _drop_vrrp_one_way(lab, src, dst) -> None:
    """Drop VRRP from ``src`` to ``dst`` only (the lab's block is both ways)."""
    lab.switch.nft(f'add rule bridge lab forward iifname "{src.port}" oifname "{dst.port}" '
                   f'ip protocol 112 drop comment "{_ONE_WAY}"\n')


def _allow_vrrp_one_way(lab) -> None:
    out = sh(["ip", "netns", "exec", lab.switch.netns, "nft", "-a", "list", "chain", "bridge",
              "lab", "forward"]).stdout
    handles = [line.rsplit("handle", 1)[1].strip() for line in out.splitlines()
               if _ONE_WAY in line and "# handle" in line]
    lab.switch.nft("".join(f"delete rule bridge lab forward handle {h}\n" for h in handles))


def _runs(box) -> list[str]:
    return box.read(RUNS).splitlines() if box.exists(RUNS) else []


@each_daemon
def test_master_hearing_lower_priority_runs_rx_lower_pri(lab, daemon):
    master, backup, _client = lab.add_seed_boxes()
    procs = {}
    for box, prio in ((master, 100), (backup, 50)):
        daemons.install_config(box, _conf(prio))
        # Root-owned 0755 under /mnt/kd/keepalived: passes enable_script_security in both.
        box.write(f"{KD}/rx-lower.sh", f'#!/bin/sh\necho "$*" >> {RUNS}\n', mode=0o755)
        procs[box.name] = daemons.start(box, daemon)
    logs = lambda: "\n".join(f"--- {n}\n{p.log_text()}" for n, p in procs.items())  # noqa: E731
    lab.wait_for_holders(VIP, ["master"], 15)
    # Healthy pair: only the backup hears adverts, from a higher priority, so nothing runs.
    assert _runs(master) == [] and _runs(backup) == [], (_runs(master), _runs(backup), logs())

    lab.block_vrrp(master, backup)
    assert wait_until(lambda: lab.holders(VIP) == ["master", "backup"], SPLIT_DEADLINE), (
        lab.holders(VIP), logs())
    # Heal backup -> master first: the higher master surely hears the lower priority.
    _drop_vrrp_one_way(lab, master, backup)
    lab.unblock_vrrp(master, backup)

    assert wait_until(lambda: _runs(master) != [], HEAL_DEADLINE), (_runs(master), logs())
    print(daemon.name, "master runs:", _runs(master), "backup runs:", _runs(backup))
    # Only its configured argv (type-specific scripts get no state arguments).
    assert _runs(master)[0] == "rx-lower-pri", _runs(master)
    # Then master -> backup: the lower master hears a higher priority and yields; its own
    # script never runs.
    _allow_vrrp_one_way(lab)
    lab.wait_for_holders(VIP, ["master"], HEAL_DEADLINE)
    assert _runs(backup) == [], (_runs(backup), logs())
