"""unicast_ttl (issue 14 item 8): unicast adverts leave with the configured TTL, as
keepalived's do, and a keepalived backup takes them (unicast adverts need no TTL 255)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab import Daemon, daemons

pytestmark = pytest.mark.keepalived

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived"
VIP = "10.10.50.244"


def conf(name: str) -> str:
    return daemons.with_advert((SEED / f"keepalived.conf.{name}").read_text(),
                               "advert_int 0.1", "version 3", "unicast_ttl 10")


@pytest.mark.parametrize("master_daemon", [Daemon.ASTLINUX_HA, Daemon.KEEPALIVED],
                         ids=["ours", "keepalived"])
def test_unicast_adverts_carry_unicast_ttl(lab, master_daemon):
    master, backup, _client = lab.add_seed_boxes()
    for box, daemon in ((master, master_daemon), (backup, Daemon.KEEPALIVED)):
        daemons.install_config(box, conf(box.name))
        assert daemons.wait_ready(daemons.start(box, daemon), 15)
    lab.wait_for_holders(VIP, ["master"], 10)
    with lab.capture() as cap:
        time.sleep(0.6)
    ttls = {p.ttl for p in cap.packets() if p.src == master.ip}
    assert ttls == {10}, ttls
    lab.wait_for_holders(VIP, ["master"], 1)  # the keepalived backup took them
