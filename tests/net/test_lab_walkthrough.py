"""The seed's walk-through on the lab with keepalived on both boxes: unicast and multicast."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab import daemons
from lab.walkthrough import run_walkthrough

pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("keepalived") is None,
                                 reason="needs Debian's keepalived (make deps)")]

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived"


@pytest.mark.parametrize("mode", ["unicast", "multicast"])
def test_seed_walkthrough_with_keepalived(lab, mode):
    master_conf = (SEED / "keepalived.conf.master").read_text()
    backup_conf = (SEED / "keepalived.conf.backup").read_text()
    if mode == "multicast":
        master_conf = daemons.without_unicast(master_conf)
        backup_conf = daemons.without_unicast(backup_conf)
        for conf in (master_conf, backup_conf):
            assert "unicast_peer" not in conf and "unicast_src_ip" not in conf
    cap = lab.capture()
    result = run_walkthrough(lab, master_conf, backup_conf)
    cap.stop()
    assert result.ok, result.render()
    # The failovers took the protocol's time: 3 adverts plus skew, not more.
    for name in ("pull the master's cable", "replug the master's cable"):
        assert 3.0 < result.step(name).took < 5.0, result.render()
    assert result.step("unblock VRRP (heals)").took <= 1.35
    # The packets on the wire were what the mode says.
    packets = cap.packets()
    assert packets and all(p.ttl == 255 for p in packets)
    dsts = {p.dst for p in packets}
    if mode == "multicast":
        assert dsts == {"224.0.0.18"}
    else:
        assert dsts == {"10.10.50.62", "10.10.50.65"}
