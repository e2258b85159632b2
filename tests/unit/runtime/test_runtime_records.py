"""runtime.records: status.json, the journal line and the dump texts, from plain values."""

from __future__ import annotations

import ipaddress

from astlinux_ha.runtime.records import (
    InstanceView,
    data_dump,
    stats_dump,
    status,
    transition,
)
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.tracking import TrackKind, TrackSpec

A = ipaddress.ip_address
PARAMS = core.InstanceParams(name="VI_1", vrid=50, primary_address=A("10.0.0.2"),
                             advert_int=1.0, unicast_peers=(A("10.0.0.3"), A("10.0.0.4")),
                             vips=(A("10.0.0.1"),),
                             tracks=(TrackSpec(TrackKind.INTERFACE, "eth0"),))
STATUS = {"state": "MASTER", "interface": "eth0", "vrid": 50, "version": 2, "priority": 100,
          "effective_priority": 90, "vips": ["10.0.0.1"], "source": "10.0.0.2",
          "master": "10.0.0.2", "since": "S", "counters": {"sent": 3}}
VIEW = InstanceView("VI_1", STATUS, PARAMS)


def test_status_json() -> None:
    out = status(pid=7, started="T0", updated="T1", config="/k.conf", reloads=2,
                 problems=("k.conf:3: bad",), counters={"unknown vrid": 1, "short packet": 2},
                 instances=[VIEW], groups=[("G1", "MASTER", ("VI_1",))])
    assert out == {
        "pid": 7, "started": "T0", "updated": "T1", "config": "/k.conf", "reloads": 2,
        "problems": ["k.conf:3: bad"],
        "counters": {"short packet": 2, "unknown vrid": 1},
        "instances": {"VI_1": STATUS},
        "sync_groups": {"G1": {"state": "MASTER", "members": ["VI_1"]}},
    }
    assert list(out["counters"]) == ["short packet", "unknown vrid"]  # sorted


def test_the_journal_line_of_a_transition() -> None:
    t = core.Transition(core.Role.BACKUP, core.Role.MASTER, "master down timer expired")
    state = core.InstanceState(role=core.Role.MASTER, priority=100,
                               master_address=A("10.0.0.9"))
    assert transition(time="T", name="VI_1", t=t, state=state) == {
        "time": "T", "instance": "VI_1", "from": "BACKUP", "to": "MASTER",
        "cause": "master down timer expired", "priority": 100, "master": "10.0.0.9"}
    assert transition(time="T", name="VI_1", t=t, state=core.InstanceState())["master"] is None


def test_the_data_dump() -> None:
    text = data_dump(now="T", config_path="/k.conf", router_id="R", instances=[VIEW])
    assert text == """------< astlinux-ha VRRP data, T >------

 config = /k.conf
 router_id = R

 VRRP Instance = VI_1
   State = MASTER
   Interface = eth0
   Virtual Router ID = 50
   Version = 2
   Priority = 100
   Effective priority = 90
   Advert interval = 1.0 sec
   Source = 10.0.0.2
   Master = 10.0.0.2
   Unicast peers = 10.0.0.3, 10.0.0.4
   Virtual IP = 10.0.0.1
   Tracking = interface eth0
   Since = S
"""


def test_the_data_dump_of_an_instance_without_peers_vips_or_tracks() -> None:
    bare = InstanceView("VI_2", {**STATUS, "vips": []},
                        core.InstanceParams(name="VI_2", vrid=2, primary_address=A("10.0.0.2")))
    text = data_dump(now="T", config_path="/k.conf", router_id=None, instances=[bare])
    assert " router_id = None\n" in text
    assert "   Unicast peers = -\n   Virtual IP = -\n   Tracking = -\n" in text


def test_the_stats_dump() -> None:
    text = stats_dump(now="T", instances=[("VI_1", {"sent": 3, "accepted": 1})],
                      counters={"unknown vrid": 2}, resyncs=1)
    assert text == """------< astlinux-ha VRRP statistics, T >------

VRRP Instance: VI_1
  accepted: 1
  sent: 3

Packets for no instance:
  unknown vrid: 2

Link watcher re-syncs: 1
"""
