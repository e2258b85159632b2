"""no_accept and vrrp_strict (issue 14 item 4): a master that does not own its VIP (priority
below 255) takes no packet for it, as keepalived 2.2.7 does with its nftables table, while
failover still moves the VIP; without either keyword the VIP answers.

Both boxes run the daemon under test, on the seed's configs (unicast for no_accept; multicast
for vrrp_strict, which refuses unicast peers). Measured with keepalived 2.2.7 (Debian's build:
NFTABLES, no iptables): the master's `nft list ruleset` has `table ip keepalived` with the VIP
in `set vips`, the backup has no table; a client's ping to the VIP gets no answer, its ping
to the master's own address does.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab import Daemon, daemons

pytestmark = pytest.mark.keepalived

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived"
VIP = "10.10.50.244"
DAEMONS = [Daemon.ASTLINUX_HA, Daemon.KEEPALIVED]
IDS = ["ours", "keepalived"]


def conf(name: str, mode: str) -> str:
    text = (SEED / f"keepalived.conf.{name}").read_text()
    if mode == "no_accept":
        return daemons.with_advert(text, "advert_int 1", "no_accept")
    if mode == "strict":
        text = text.replace("vrrp_check_unicast_src", "vrrp_check_unicast_src\n   vrrp_strict")
        return daemons.without_unicast(text)
    return text


def answers(client, target: str) -> bool:
    """Whether ``target`` answers any of three pings from ``client``."""
    ping = ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", target]
    return client.run(ping, check=False, timeout=10).returncode == 0


def dropped(box) -> str:
    """The elements of the box's `ip keepalived` vips set ('' when there is no table)."""
    out = box.run(["nft", "list", "set", "ip", "keepalived", "vips"], check=False)
    return out.stdout if out.returncode == 0 else ""


@pytest.mark.parametrize("mode", ["no_accept", "strict", "accept"])
@pytest.mark.parametrize("daemon", DAEMONS, ids=IDS)
def test_vip_answers_only_with_accept_and_failover_still_works(lab, daemon, mode):
    master, backup, client = lab.add_seed_boxes()
    procs = {}
    for box in (master, backup):
        daemons.install_config(box, conf(box.name, mode))
        procs[box.name] = daemons.start(box, daemon)
        assert daemons.wait_ready(procs[box.name], 15)
    lab.wait_for_holders(VIP, ["master"], 10)
    time.sleep(0.3)  # the rule goes in before the VIP; let a slow nft finish either way
    assert answers(client, master.ip)  # the box itself always answers
    refused = mode != "accept"
    assert answers(client, VIP) is not refused
    assert (VIP in dropped(master)) is refused
    assert dropped(backup) == ""

    assert procs["master"].stop() == 0  # graceful stop: priority 0, the backup takes over
    took = lab.wait_for_holders(VIP, ["backup"], 10)
    print(f"{daemon.value} {mode}: backup holds {VIP} {took:.2f}s after the master's stop")
    time.sleep(0.3)
    assert answers(client, VIP) is not refused
    assert (VIP in dropped(backup)) is refused
    assert master.run(["nft", "list", "tables"], check=False).stdout.strip() == ""


CONF6 = """global_defs {{
   router_id ASTLINUX
}}
vrrp_instance VI_6 {{
    state BACKUP
    interface eth0
    virtual_router_id 60
    version 3
    advert_int 0.5
    priority {priority}
    no_accept
    virtual_ipaddress {{
        fe80::244/64 dev eth0
        fd00::244/64 dev eth0
    }}
}}
"""


@pytest.mark.parametrize("daemon", DAEMONS, ids=IDS)
def test_ipv6_vips_do_not_answer_and_neighbour_discovery_still_works(lab, daemon):
    """IPv6 (multicast v3): neither the global nor the link-local VIP answers a ping, the
    master's own address on the same link does (its neighbour entry is learnt through the
    neighbour discovery the table lets through)."""
    master, backup, client = lab.add_seed_boxes()
    client.add_address("fd00::10/64")
    master.add_address("fd00::62/64")
    for box, priority in ((master, 100), (backup, 99)):
        daemons.install_config(box, CONF6.format(priority=priority))
        assert daemons.wait_ready(daemons.start(box, daemon), 15)
    lab.wait_for_holders("fd00::244", ["master"], 15)
    time.sleep(0.3)
    assert answers(client, "fd00::62")
    assert not answers(client, "fd00::244")
    assert not answers(client, "fe80::244%eth0")
    table = master.run(["nft", "list", "table", "ip6", "keepalived"], check=False).stdout
    assert "fd00::244" in table and "fe80::244" in table


def test_a_crashed_run_s_table_is_removed_at_start(lab):
    """A table a killed daemon left behind (ours or keepalived's: same name) would keep the
    VIP dark under a config without no_accept: ours deletes it at start. (keepalived 2.2.7
    deletes it only when it first sets a rule of its own, so it is not compared here.)"""
    master, backup, client = lab.add_seed_boxes()
    master.run(["nft", "-f", "-"], input=(
        "table ip keepalived {\n set vips { type ipv4_addr; elements = { 10.10.50.244 } }\n"
        " chain in { type filter hook input priority -1; policy accept; ip daddr @vips drop; }\n"
        "}\n"))
    assert VIP in dropped(master)
    daemons.install_config(master, conf("master", "accept"))
    assert daemons.wait_ready(daemons.start(master, Daemon.ASTLINUX_HA), 15)
    lab.wait_for_holders(VIP, ["master"], 10)
    assert dropped(master) == ""
    assert answers(client, VIP)
