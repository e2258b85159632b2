"""Hostile input on the lab's wire: an attacker box aims junk and forged adverts at the seed's
master, its backup and 224.0.0.18 while two of our daemons run the seed's config (v2, 1 s,
unicast, vrrp_check_unicast_src). Nothing moves, both live, every reason is counted."""

from __future__ import annotations

import threading

import pytest
from hardening_util import ATTACKER, VIP, attack, pair, stats, transitions

from bench import hostile

pytestmark = [pytest.mark.root]
COUNT = 10


def test_junk_and_forged_adverts_move_nothing_and_are_counted(lab):
    master, backup, pm, pb = pair(lab)
    attacker = lab.add_box(*ATTACKER)
    before = {b.name: transitions(b) for b in (master, backup)}
    base = {b.name: stats(b, p) for b, p in ((master, pm), (backup, pb))}

    seen: list[list[str]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(lab.holders(VIP))
            done.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        sent = attack(attacker, "--kind", "all", "--count", str(COUNT), "--dst", master.ip,
                      "--dst", backup.ip, "--dst", "224.0.0.18")
    finally:
        done.set()
        watcher.join()
    assert all(n == COUNT for n in sent.values()), sent
    assert len(sent) == 3 * len(hostile.KINDS)

    assert seen and all(h == ["master"] for h in seen), sorted(map(tuple, seen))
    assert pm.alive() and pb.alive()
    assert {b.name: transitions(b) for b in (master, backup)} == before
    for box, proc in ((master, pm), (backup, pb)):
        now = stats(box, proc)
        grown = {k: now.get(k, 0) - base[box.name].get(k, 0) for k in now}
        for kind, (_make, counter, _forged) in hostile.KINDS.items():
            if counter is not None:
                assert grown.get(counter, 0) >= COUNT, (box.name, kind, counter, grown)
        # random bytes land in some reason; nothing the attacker sent was accepted
        rejected = sum(v for k, v in grown.items() if k not in (
            "accepted", "sent", "garp_sent", "arp_probe_sent", "vip count", "vip missing",
            "v3 interval mismatch", "old unicast checksum"))
        assert rejected >= COUNT * (len(hostile.KINDS)), (box.name, grown)
    log = pm.log_text()
    assert "unicast source address 10.10.50.99 not a unicast peer" in log
