"""Hostile input on the lab's wire: an attacker box aims junk and forged adverts at the seed's
master, its backup and 224.0.0.18, one kind at a time, while two of our daemons run the seed's
config (v2, 1 s, unicast, vrrp_check_unicast_src). For every kind: nothing moves, both live,
the reason is counted on both boxes. The bench runs the same measurement against keepalived."""

from __future__ import annotations

import pytest
from hardening_util import ATTACKER, VIP, pair, transitions

from lab import Daemon, attack, hostile

pytestmark = [pytest.mark.root]
COUNT = 10


def test_each_kind_of_junk_and_forgery_moves_nothing_and_is_counted(lab):
    master, backup, pm, pb = pair(lab)
    attacker = lab.add_box(*ATTACKER)
    before = {b.name: transitions(b) for b in (master, backup)}

    rows = attack.measure_kinds(lab, {"master": (master, pm), "backup": (backup, pb)},
                                attacker, Daemon.ASTLINUX_HA, vip=VIP, count=COUNT)

    assert [r["kind"] for r in rows] == list(hostile.KINDS)
    for row in rows:
        assert row["sent"] == 3 * COUNT, row
        assert not row["vip_moved"], row
        expected = hostile.KINDS[row["kind"]][1]
        for name, box in row["boxes"].items():
            assert box["alive"] and box["state_changes"] == 0, (row["kind"], name, box)
            counted = box["counted"]
            if expected is None:  # random bytes land in some reason or other
                assert sum(counted.values()) >= COUNT - 2, (row["kind"], name, counted)
            else:
                hits = [v for k, v in counted.items() if k.rsplit("/", 1)[-1] == expected]
                assert hits and hits[0] >= COUNT, (row["kind"], name, expected, counted)
            # rate-limited: one line per reason and source at most, never one per packet
            assert box["log_lines"] <= 2, (row["kind"], name, box)
    assert {b.name: transitions(b) for b in (master, backup)} == before
    assert "unicast source address 10.10.50.99 not a unicast peer" in pm.log_text()
