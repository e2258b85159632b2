"""An instance without 'interface' (keepalived 2.4.3 runs it; issue 18): unicast from its
unicast_src_ip, sockets not bound to a device, the VIPs on the devices they name, and the links
those VIPs live on tracked. The seed's pair with its `interface eth0` lines taken out walks the
whole guide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from astlinux_ha.config import check_text
from astlinux_ha.runtime.plan import track_specs
from astlinux_ha.vrrp.tracking import TrackKind, TrackSpec
from lab import Daemon, daemons
from lab.walkthrough import run_walkthrough

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived"
ADVERT_INT = 0.1


def interfaceless(name: str) -> str:
    text = (SEED / f"keepalived.conf.{name}").read_text()
    text, count = re.subn(r"(?m)^\s*interface eth0\n", "", text)
    assert count == 1
    return daemons.with_advert(text, f"advert_int {ADVERT_INT:g}", "version 3")


def test_the_vips_links_are_what_it_tracks():
    config = check_text(interfaceless("master")).config
    assert config is not None and config.instances[0].interface is None
    specs = track_specs(config, config.instances[0], frozenset())
    assert TrackSpec(TrackKind.INTERFACE, "eth0") in specs


@pytest.mark.root
def test_the_guides_walkthrough_without_interface_lines(lab):
    result = run_walkthrough(lab, interfaceless("master"), interfaceless("backup"),
                             master_daemon=Daemon.ASTLINUX_HA, backup_daemon=Daemon.ASTLINUX_HA,
                             advert_int=ADVERT_INT)
    assert result.ok, result.render()
