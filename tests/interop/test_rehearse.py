"""``rehearse``: two real configs rehearsed in a lab built from them (issue 15).

The guide's pair runs in all three daemon combinations (ours on both boxes, keepalived on both,
keepalived master with our backup), at the guide's 1 s adverts. Three clean pairs that use
neither the guide's addresses nor eth0 (multicast on eth1 with no source address, IPv6 v3
unicast on eth2, a sync group of two instances on eth1 and eth2 with a stubbed track script)
run in the same three combinations at 100 ms adverts, the mixed one in alternating
directions. A pair whose backup's unicast_peer is not the master's address fails, and the
report names that cause. The planner (which addresses each box needs) is checked without root.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from astlinux_ha.config import check
from lab import Daemon
from lab.rehearse import RehearsalResult, rehearse
from lab.rehearse_plan import plan

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "rehearse"
GUIDE = (str(REPO / "etc/keepalived/keepalived.conf.master"),
         str(REPO / "etc/keepalived/keepalived.conf.backup"))
OURS, KEEPALIVED = Daemon.ASTLINUX_HA, Daemon.KEEPALIVED

needs_keepalived = pytest.mark.skipif(shutil.which("keepalived") is None,
                                      reason="needs Debian's keepalived (make deps)")
ours = pytest.param((OURS, OURS), id="ours")
both_keepalived = pytest.param((KEEPALIVED, KEEPALIVED), id="keepalived",
                               marks=needs_keepalived)


def mixed(master: Daemon, backup: Daemon) -> object:
    return pytest.param((master, backup), id=f"{master.value}-master-{backup.value}-backup",
                        marks=needs_keepalived)


def pair(name: str) -> tuple[str, str]:
    return str(DATA / f"{name}.master.conf"), str(DATA / f"{name}.backup.conf")


def run(lab, paths: tuple[str, str], daemons: tuple[Daemon, Daemon],
        **kw) -> RehearsalResult:
    result = rehearse(lab, *paths, master_daemon=daemons[0], backup_daemon=daemons[1], **kw)
    print(result.render())
    return result


def steps_of(result: RehearsalResult, instance: str) -> list[str]:
    return [s.step for s in result.tables[instance]]


# -- the planner (no root) ----------------------------------------------------------------------

def loaded(paths: tuple[str, str]):
    return check(paths[0]).config, check(paths[1]).config


def test_plan_of_the_guide_pair_is_the_guides_lan():
    the_plan = plan(*loaded(GUIDE))
    seg = the_plan.segments["eth0"]
    assert seg.addresses == {"master": ["10.10.50.62/24"], "backup": ["10.10.50.65/24"],
                             "client": ["10.10.50.10/24"]}
    assert seg.vips == ["10.10.50.244"]


def test_plan_without_source_addresses_uses_the_vips_network():
    the_plan = plan(*loaded(pair("multicast")))
    assert list(the_plan.segments) == ["eth1"]
    seg = the_plan.segments["eth1"]
    assert seg.bridge != "br0"
    assert seg.addresses["master"] == ["192.168.7.1/24"]
    assert seg.addresses["backup"] == ["192.168.7.2/24"]
    assert seg.client == "client" and seg.addresses["client"] == ["192.168.7.10/24"]


def test_plan_gives_a_box_without_source_the_address_its_peer_expects(tmp_path):
    master, backup = (Path(p).read_text() for p in pair("wrongpeer"))
    # The master names no source: it must be where the backup's unicast_peer points.
    (tmp_path / "m.conf").write_text(master.replace("    unicast_src_ip 10.0.0.1\n", ""))
    (tmp_path / "b.conf").write_text(backup)
    the_plan = plan(*loaded((str(tmp_path / "m.conf"), str(tmp_path / "b.conf"))))
    assert the_plan.segments["eth1"].addresses["master"] == ["10.0.0.9/24"]


def test_plan_of_a_sync_group_has_a_lan_and_a_client_per_interface():
    the_plan = plan(*loaded(pair("syncgroup")))
    assert [p.name for p in the_plan.pairs] == ["LAN", "WAN"]
    assert {n: s.client for n, s in the_plan.segments.items()} == {"eth1": "client",
                                                                   "eth2": "client2"}


# -- rehearsals in the lab ----------------------------------------------------------------------

# keepalived on both boxes walks the other pairs (the guide's v2 pair takes 25 s a run).
@pytest.mark.root
@pytest.mark.parametrize("daemons", [ours, mixed(KEEPALIVED, OURS)])
def test_guide_pair_rehearses_to_pass(lab, daemons):
    result = run(lab, GUIDE, daemons)
    assert result.ok, result.render()
    assert steps_of(result, "VI_1") == [
        "start both daemons", "pull the master's eth0 cable", "replug the master's eth0 cable",
        "backup priority 101, restart", "undo the priority, restart",
        "block VRRP (split brain)", "unblock VRRP (heals)", "stop the master's daemon"]
    assert result.render().endswith("result: PASS")


@pytest.mark.root
@pytest.mark.parametrize("daemons", [ours, both_keepalived, mixed(KEEPALIVED, OURS)])
def test_multicast_pair_on_eth1_rehearses_to_pass(lab, daemons):
    result = run(lab, pair("multicast"), daemons)
    assert result.ok, result.render()
    assert "pull the master's eth1 cable" in steps_of(result, "LAN")
    assert not lab.box("master").holds("10.10.50.62")


@pytest.mark.root
@pytest.mark.parametrize("daemons", [ours, both_keepalived, mixed(OURS, KEEPALIVED)])
def test_ipv6_v3_pair_on_eth2_rehearses_to_pass(lab, daemons):
    result = run(lab, pair("ipv6"), daemons)
    assert result.ok, result.render()
    assert "pull the master's eth2 cable" in steps_of(result, "V6")


@pytest.mark.root
@pytest.mark.parametrize("daemons", [ours, both_keepalived, mixed(KEEPALIVED, OURS)])
def test_sync_group_pair_with_a_track_script_rehearses_to_pass(lab, daemons):
    result = run(lab, pair("syncgroup"), daemons)
    assert result.ok, result.render()
    for instance in ("LAN", "WAN"):
        steps = steps_of(result, instance)
        # Each interface pulled moves both members; the stubbed script fails the group over.
        assert {"pull the master's eth1 cable", "pull the master's eth2 cable",
                "track script chk_sip fails on the master"} <= set(steps), steps
        fails = result.tables[instance][steps.index("track script chk_sip fails on the master")]
        assert fails.expected == ["backup"]
    assert any("chk_sip: stubbed" in line for line in result.scripts), result.scripts


@pytest.mark.root
@pytest.mark.parametrize("daemons", [ours, both_keepalived])
def test_peers_that_do_not_point_at_each_other_fail_with_the_cause(lab, daemons):
    result = run(lab, pair("wrongpeer"), daemons)
    assert not result.ok
    report = result.render()
    assert report.endswith("result: FAIL")
    failure = result.failures[0]
    assert (failure.instance, failure.step) == ("VI_1", "start both daemons")
    assert ("backup never heard the master: its unicast_peer 10.0.0.9 is not the master's "
            "source 10.0.0.1") in report
    # The backup's own log shows it becoming master: the lines that explain it are there.
    assert any("(VI_1)" in line and "MASTER" in line for line in failure.log_lines["backup"])


@pytest.mark.root
def test_the_guides_firewall_without_its_vrrp_rule_splits_a_multicast_pair(lab):
    result = run(lab, pair("multicast"), (OURS, OURS), firewall=True)
    assert not result.ok
    assert any("the firewall in the backup box" in cause
               for f in result.failures for cause in f.causes), result.render()


# -- astlinux-ha rehearse: the hand-over to the lab ---------------------------------------------

def test_astlinux_ha_rehearse_says_so_when_the_lab_is_absent(tmp_path, monkeypatch, capsys):
    from astlinux_ha import cli

    # An installed package: nothing beside it but the package itself.
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "astlinux_ha" / "cli.py"))
    assert cli.main(["rehearse", *pair("multicast")]) == 2
    err = capsys.readouterr().err
    assert "the lab is not installed here" in err and "source checkout" in err


@pytest.mark.root
def test_astlinux_ha_rehearse_hands_over_to_the_lab():
    proc = subprocess.run([sys.executable, "-m", "astlinux_ha", "rehearse", *pair("multicast")],
                          capture_output=True, text=True, timeout=300, cwd="/", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "instance LAN:" in proc.stdout and proc.stdout.rstrip().endswith("result: PASS")
