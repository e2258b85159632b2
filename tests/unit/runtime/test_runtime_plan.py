"""runtime.plan: a config's start planned from verdicts and a snapshot of host facts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from astlinux_ha.config import check_text
from astlinux_ha.preflight.script_security import check_scripts
from astlinux_ha.runtime import plan as P
from astlinux_ha.runtime.plan import HostFacts, ScriptPlan
from astlinux_ha.vrrp.tracking import TrackKind


@pytest.fixture
def ok_script(tmp_path: Path) -> Path:
    path = tmp_path / "ok.sh"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def conf(ok: Path, missing: Path) -> str:
    return f"""global_defs {{
  script_user root
  notify_fifo /run/one
  notify_fifo_script "{ok}"
  vrrp_notify_fifo /run/two someone
  vrrp_notify_fifo_script "{missing}"
}}
vrrp_script chk {{
  script "{ok}"
  init_fail
}}
vrrp_script bad {{
  script "{missing}"
}}
vrrp_script idle {{
  script "{ok}"
}}
vrrp_sync_group G1 {{
  group {{
    VI_1
    VI_9
  }}
}}
vrrp_sync_group G2 {{
  group {{
    VI_8
  }}
}}
vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 50
  unicast_src_ip 10.0.0.2
  unicast_peer {{
    10.0.0.3
  }}
  track_interface {{
    eth1
  }}
  notify_master "{ok}"
  notify_backup "{missing}"
  notify_deleted
  track_script {{
    chk
    bad
  }}
  virtual_ipaddress {{
    10.0.0.1
  }}
}}
"""


def judged(text: str) -> tuple[object, ScriptPlan]:
    config = check_text(text).config
    assert config is not None
    return config, ScriptPlan.from_report(config, check_scripts(config))


def test_scripts_are_keyed_by_their_line_and_survive_a_new_parse(ok_script: Path,
                                                                  tmp_path: Path) -> None:
    text = conf(ok_script, tmp_path / "missing.sh")
    config, scripts = judged(text)
    assert scripts.usable == {"chk", "idle"}
    inst = config.instances[0]
    assert scripts.command(inst.notifies.master).argv == (str(ok_script),)
    assert scripts.command(inst.notifies.backup) is None  # refused
    assert scripts.command(None) is None
    # The same lines parsed again (new objects): the verdicts still apply to them.
    again = check_text(text).config.instances[0]
    assert again.notifies.master is not inst.notifies.master
    assert scripts.command(again.notifies.master) is not None


def test_notify_scripts_with_todays_verdicts(ok_script: Path, tmp_path: Path) -> None:
    config, scripts = judged(conf(ok_script, tmp_path / "missing.sh"))
    n = scripts.notify_scripts(config.instances[0].notifies)
    assert n.master is not None and n.backup is None and n.generic is None
    assert n.notify_deleted  # the bare flag
    assert not scripts.notify_scripts(config.sync_groups[0].notifies).notify_deleted


def test_fifos_in_order_with_their_reader_if_it_passed(ok_script: Path, tmp_path: Path) -> None:
    config, scripts = judged(conf(ok_script, tmp_path / "missing.sh"))
    one, two = P.fifos(config, scripts)
    assert (one.path, one.user, one.script.argv) == ("/run/one", None, (str(ok_script),))
    assert (two.path, two.user, two.script) == ("/run/two", "someone", None)


def test_track_scripts_run_only_when_usable_and_tracked(ok_script: Path, tmp_path: Path) -> None:
    config, scripts = judged(conf(ok_script, tmp_path / "missing.sh"))
    tracked = P.plan(config, config.instances[0], scripts.usable).tracks
    specs = P.track_scripts(config, scripts, tracked)
    assert [(s.name, s.init_fail) for s in specs] == [("chk", True)]
    assert P.track_scripts(config, scripts, ()) == ()


def test_groups_keep_their_running_members(ok_script: Path, tmp_path: Path) -> None:
    config, _ = judged(conf(ok_script, tmp_path / "missing.sh"))
    assert [(g.name, m) for g, m in P.groups(config, {"VI_1"})] == [("G1", ("VI_1",))]
    assert P.groups(config, set()) == ()


def test_the_initial_down_set_from_host_facts(ok_script: Path, tmp_path: Path) -> None:
    config, scripts = judged(conf(ok_script, tmp_path / "missing.sh"))
    tracks = P.plan(config, config.instances[0], scripts.usable).tracks
    everything = HostFacts(frozenset({"eth0", "eth1"}), frozenset({"10.0.0.2"}))
    assert P.initial_down(config, tracks, (), everything) == frozenset()
    # init_fail counts down only while the script runs
    assert P.initial_down(config, tracks, {"chk"}, everything) == {(TrackKind.SCRIPT, "chk")}
    nothing = HostFacts(frozenset(), frozenset())
    assert P.initial_down(config, tracks, (), nothing) == {
        (TrackKind.INTERFACE, "eth0"), (TrackKind.INTERFACE, "eth1"),
        (TrackKind.ADDRESS, "10.0.0.2")}


# ------------------------------------------------------------ one instance's plan


def one(body: str, head: str = ""):
    config = check_text(head + "vrrp_instance VI_1 {\n  virtual_router_id 5\n" + body + "}\n"
                        ).config
    assert config is not None and config.instances, "instance dropped"
    return config, config.instances[0]


PEER6 = "  unicast_peer {\n    fe80::2\n  }\n"


def test_the_family_without_vips() -> None:
    _, inst = one("  interface eth0\n  unicast_src_ip fe80::1\n" + PEER6 +
                  "  virtual_ipaddress {\n    fe80::10\n  }\n")
    bare = dataclasses.replace(inst, virtual_ipaddresses=())
    assert P.family_of(bare) == 6  # its source
    assert P.family_of(dataclasses.replace(bare, unicast_src_ip=None)) == 6  # its peer
    assert P.family_of(dataclasses.replace(bare, unicast_src_ip=None, unicast_peers=())) == 4


def test_routes_name_their_table() -> None:
    _, inst = one("""  interface eth0
  virtual_ipaddress {
    10.0.0.1
  }
  virtual_routes {
    10.1.0.0/16 via 10.0.0.254 dev eth0 table main
    10.2.0.0/16 via 10.0.0.254 dev eth0 table 100
    10.3.0.0/16 via 10.0.0.254 dev eth0 metric 5
  }
""")
    assert [(str(r.dst), r.table, r.metric) for r in P.routes(inst)] == [
        ("10.1.0.0/16", 254, None), ("10.2.0.0/16", 100, None), ("10.3.0.0/16", None, 5)]


def test_an_instance_without_interface_tracks_its_vips_links() -> None:
    config, inst = one("""  unicast_src_ip 10.0.0.2
  unicast_peer {
    10.0.0.3
  }
  virtual_ipaddress {
    10.0.0.1 dev eth1
    10.0.0.5 dev eth1
    10.0.0.6 dev eth2 no_track
  }
""")
    assert [(t.kind, t.name) for t in P.track_specs(config, inst, frozenset())] == [
        (TrackKind.INTERFACE, "eth1"), (TrackKind.ADDRESS, "10.0.0.2")]


def test_a_track_interface_for_the_primary_sets_its_weight() -> None:
    # (The reader drops such a line with a warning, as keepalived does; the plan still
    # honours one given to it.)
    config, inst = one("""  interface eth0
  track_interface {
    eth1 weight 10
  }
  virtual_ipaddress {
    10.0.0.1
  }
""")
    (ti,) = inst.track_interfaces
    inst = dataclasses.replace(inst, track_interfaces=(dataclasses.replace(ti, name="eth0"),))
    (primary,) = P.track_specs(config, inst, frozenset())
    assert (primary.name, primary.weight) == ("eth0", 10)


def test_min_garp_sends_one_message() -> None:
    config, inst = one("  interface eth0\n  virtual_ipaddress {\n    10.0.0.1\n  }\n",
                       "global_defs {\n  vrrp_min_garp\n}\n")
    garp = P.core_params(config, P.plan(config, inst, frozenset()),
                         P.UNSPECIFIED4).garp
    assert (garp.master_repeat, garp.master_refresh, garp.lower_prio_repeat) == (1, 0.0, 0)


GROUP_TRACKS = """vrrp_script chk {
  script "/bin/true"
  weight -20
}
vrrp_sync_group G1 {
  group {
    VI_1
    VI_2
  }
  track_interface {
    eth1
    eth0 weight 5
  }
  track_script {
    chk
    chk_not_defined
  }
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 50
  priority PRIO
  virtual_ipaddress {
    10.0.0.1
  }
}
vrrp_instance VI_2 {
  interface eth2
  virtual_router_id 60
  virtual_ipaddress {
    10.0.1.1
  }
}
"""


def test_a_sync_groups_tracks_become_each_members() -> None:
    # keepalived's sync_group_tracking_init: the group's tracked objects are every member's,
    # weights and all; what a member tracks itself (VI_1's own eth0) is not tracked twice.
    config = check_text(GROUP_TRACKS.replace("PRIO", "100")).config
    assert config is not None
    one_, two = config.instances
    specs = {i.name: [(t.kind.value, t.name, t.weight) for t in
                      P.track_specs(config, i, frozenset({"chk"}))] for i in (one_, two)}
    assert specs == {
        "VI_1": [("interface", "eth0", 0), ("interface", "eth1", 0), ("script", "chk", -20)],
        "VI_2": [("interface", "eth2", 0), ("interface", "eth1", 0), ("interface", "eth0", 5),
                 ("script", "chk", -20)],
    }
    # A refused script is left out of the group's tracks as of a member's own.
    assert ("script", "chk") not in {(t.kind.value, t.name)
                                     for t in P.track_specs(config, two, frozenset())}


def test_a_sync_group_with_an_address_owner_clears_the_group_weights() -> None:
    # The checks clear them, and say so, as keepalived; an unknown script is dropped.
    result = check_text(GROUP_TRACKS.replace("PRIO", "255"))
    config = result.config
    assert config is not None
    said = [p.render() for p in result.problems]
    assert "<string>:16: (G1) track script chk_not_defined not found, ignoring..." in said
    assert ("<string>:15: (G1) Cannot have weighted track script 'chk' with member having"
            " priority 255 - clearing weight (warning)") in said
    assert ("<string>:12: (G1) Cannot have weighted track interface 'eth0' with member having"
            " priority 255 - clearing weight (warning)") in said
    two = config.instance("VI_2")
    assert [(t.name, t.weight) for t in P.track_specs(config, two, frozenset({"chk"}))] == [
        ("eth2", 0), ("eth1", 0), ("eth0", 0), ("chk", 0)]
