"""The seed's walk-through with our daemon on both boxes, and in mixed pairs with keepalived.

Each run is the whole user's guide (start, cable pull and replug, priority 101 and back, split
brain, heal, graceful stop) with a client pinging the VIP every 10 ms. On top of the walk-through's
own verdict, every run checks the times an admin would care about:

* the client's outage on a cable pull is at most the RFC master-down interval of the box taking
  over (3 adverts plus its skew) plus 50 ms;
* on a graceful stop the outage is under 50 ms when our daemon is the backup of one unicast
  peer (single-peer fast takeover), otherwise at most the backup's skew plus 50 ms;
* the split brain heals within one advert interval, and each of our daemons logged
  ``split brain`` while VRRP was blocked.

v2 runs keep the seed's 1 s adverts (the timing a user sees); v3 runs use 50 ms adverts, so the
whole walk-through takes seconds.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from lab import Daemon, daemons
from lab.walkthrough import SEED_VIP_LINE, WalkthroughResult, run_walkthrough

pytestmark = [pytest.mark.root, pytest.mark.slow]

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived"
OURS, KEEPALIVED = Daemon.ASTLINUX_HA, Daemon.KEEPALIVED
BACKUP_PRIORITY = 99
# What the client may lose on top of the protocol's own time: a 10 ms ping period, the GARP's
# flight and the new master's netlink work.
MARGIN = 0.05

needs_keepalived = pytest.mark.skipif(shutil.which("keepalived") is None,
                                      reason="needs Debian's keepalived (make deps)")


def seed_confs(*, version: int, multicast: bool,
               advert_int: float) -> tuple[str, str]:
    """The seed's master and backup configs, changed only where the variant says."""
    confs = []
    for name in ("keepalived.conf.master", "keepalived.conf.backup"):
        text = (SEED / name).read_text()
        if multicast:
            text = daemons.without_unicast(text)
        if version == 3:
            text, count = re.subn(r"(?m)^(\s*)advert_int 1\s*$",
                                  rf"\g<1>advert_int {advert_int:g}\n\g<1>version 3", text)
            assert count == 1
        confs.append(text)
    return confs[0], confs[1]


def skew(priority: int, advert_int: float, version: int) -> float:
    """RFC 3768/5798 skew time: v2 ignores the advert interval, v3 scales with it."""
    return (256 - priority) / 256 * (advert_int if version == 3 else 1.0)


def master_down(priority: int, advert_int: float, version: int) -> float:
    """RFC master-down interval of a backup with ``priority``."""
    return 3 * advert_int + skew(priority, advert_int, version)


def walk(lab, *, master: Daemon, backup: Daemon, version: int, multicast: bool,
         advert_int: float) -> WalkthroughResult:
    master_conf, backup_conf = seed_confs(version=version, multicast=multicast,
                                          advert_int=advert_int)
    result = run_walkthrough(lab, master_conf, backup_conf, master_daemon=master,
                             backup_daemon=backup, advert_int=advert_int)
    assert result.ok, result.render()
    check_times(result, backup=backup, version=version, multicast=multicast,
                advert_int=advert_int)
    check_split_brain_logged(result, {"master": master, "backup": backup})
    return result


def check_times(result: WalkthroughResult, *, backup: Daemon, version: int, multicast: bool,
                advert_int: float) -> None:
    story = result.render()
    pull = result.step("pull the master's cable").longest_ping_gap
    limit = master_down(BACKUP_PRIORITY, advert_int, version) + MARGIN
    assert pull is not None and pull <= limit, f"cable pull outage {pull} > {limit}\n{story}"
    stop = result.step("stop the master's daemon").longest_ping_gap
    if backup is OURS and not multicast:
        stop_limit = MARGIN
    else:
        stop_limit = skew(BACKUP_PRIORITY, advert_int, version) + MARGIN
    assert stop is not None and stop < stop_limit, f"graceful stop outage {stop}\n{story}"
    heal = result.step("unblock VRRP (heals)").took
    assert heal is not None and heal <= advert_int + 0.35, story


def check_split_brain_logged(result: WalkthroughResult, kinds: dict[str, Daemon]) -> None:
    for box, kind in kinds.items():
        if kind is OURS:
            assert "split brain" in result.logs[box], f"{box}:\n{result.logs[box]}"


# IPv6: the seed's boxes get fd00:10:50::/64 addresses next to their IPv4 ones.
VIP6 = "fd00:10:50::244"
V6_HOSTS = {"master": 62, "backup": 65, "client": 10}


def v6_conf(me: str, peer: str, *, state: str, priority: int) -> str:
    return f"""global_defs {{
   router_id ASTLINUX
   enable_script_security
   script_user root root
   vrrp_check_unicast_src
}}

vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 50
    version 3
    advert_int 0.05
    priority {priority}
    unicast_src_ip fd00:10:50::{V6_HOSTS[me]}
    unicast_peer {{
        fd00:10:50::{V6_HOSTS[peer]}
    }}
    virtual_ipaddress {{
        {VIP6}/64 dev eth0
    }}
}}
"""


def walk_v6(lab, *, master: Daemon, backup: Daemon) -> WalkthroughResult:
    for box in lab.add_seed_boxes():
        box.add_address(f"fd00:10:50::{V6_HOSTS[box.name]}/64")
    result = run_walkthrough(
        lab, v6_conf("master", "backup", state="MASTER", priority=100),
        v6_conf("backup", "master", state="BACKUP", priority=BACKUP_PRIORITY),
        master_daemon=master, backup_daemon=backup, vip=VIP6, advert_int=0.05,
        vip_line=f"inet6 {VIP6}/64 scope global")
    assert result.ok, result.render()
    check_times(result, backup=backup, version=3, multicast=False, advert_int=0.05)
    # Split brain in IPv6 is seen through adverts only (no ARP): the higher-priority master
    # logs it when the block lifts.
    if master is OURS:
        assert "split brain" in result.logs["master"], result.logs["master"]
    return result


# ours on both boxes -------------------------------------------------------------------------

def test_seed_config_ours_on_both_boxes(lab):
    """The seed exactly: v2, unicast, vrrp_check_unicast_src, 1 s adverts."""
    # result.ok includes the master showing exactly SEED_VIP_LINE after the start.
    result = walk(lab, master=OURS, backup=OURS, version=2, multicast=False, advert_int=1.0)
    assert result.step("start both daemons").holders == ["master"]
    assert SEED_VIP_LINE == "inet 10.10.50.244/32 scope global eth0:10"


def test_v2_multicast_ours_on_both_boxes(lab):
    walk(lab, master=OURS, backup=OURS, version=2, multicast=True, advert_int=1.0)


@pytest.mark.parametrize("multicast", [False, True], ids=["unicast", "multicast"])
def test_v3_fast_adverts_ours_on_both_boxes(lab, multicast):
    walk(lab, master=OURS, backup=OURS, version=3, multicast=multicast, advert_int=0.05)


def test_ipv6_vip_ours_on_both_boxes(lab):
    walk_v6(lab, master=OURS, backup=OURS)


# mixed pairs --------------------------------------------------------------------------------

def _mixed(multicast: bool, version: int, ours_master: bool):
    master, backup = (OURS, KEEPALIVED) if ours_master else (KEEPALIVED, OURS)
    ids = ("multicast" if multicast else "unicast", f"v{version}",
           "ours-master" if ours_master else "keepalived-master")
    return pytest.param(master, backup, version, 1.0 if version == 2 else 0.05, multicast,
                        id="-".join(ids))


# v3 at 50 ms in every combination; v2 at 1 s (23 s a walk) each mode and each direction
# once: the suite's time goes to what a combination can add.
MIXED = [*(_mixed(m, 3, o) for m in (False, True) for o in (True, False)),
         _mixed(False, 2, True), _mixed(True, 2, False)]


@needs_keepalived
@pytest.mark.parametrize("master,backup,version,advert_int,multicast", MIXED)
def test_mixed_pair(lab, master, backup, version, advert_int, multicast):
    walk(lab, master=master, backup=backup, version=version, multicast=multicast,
         advert_int=advert_int)


@needs_keepalived
@pytest.mark.parametrize("master,backup", [(OURS, KEEPALIVED), (KEEPALIVED, OURS)],
                         ids=["ours-master", "keepalived-master"])
def test_mixed_pair_ipv6(lab, master, backup):
    walk_v6(lab, master=master, backup=backup)
