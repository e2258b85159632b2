"""-t on an AstLinux box: a multicast instance without a firewall rule letting VRRP in is named
(the guide's Firewall section), unicast needs none (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from astlinux_ha.config import check_text
from astlinux_ha.preflight.host_checks import firewall_problems
from lab.daemons import without_unicast

SEED = Path(__file__).resolve().parents[3] / "etc"
UNICAST = (SEED / "keepalived" / "keepalived.conf.master").read_text()
MULTICAST = without_unicast(UNICAST)
SNIPPET = (SEED / "arno-iptables-firewall" / "custom-rules.vrrp").read_text()


def problems(tmp_path: Path, conf: str, rules: str | None) -> list[str]:
    fw = tmp_path / "arno-iptables-firewall"
    fw.mkdir(exist_ok=True)
    if rules is not None:
        (fw / "custom-rules").write_text(rules)
    config = check_text(conf).config
    assert config is not None
    return [p.render() for p in firewall_problems(config, str(fw / "custom-rules"))]


@pytest.mark.parametrize("rules", [None, "", "# allow_ext_vrrp_mcast \"10.10.50.0/24\"\n",
                                   SNIPPET.split("allow_ext_vrrp_mcast \"")[0],
                                   "iptables -A EXT_INPUT_CHAIN -p 112 -d 224.0.0.99 -j ACCEPT\n",
                                   "iptables -A EXT_INPUT_CHAIN -p 112 -j DROP\n"])
def test_multicast_without_an_admitting_rule_is_warned(tmp_path, rules):
    found = problems(tmp_path, MULTICAST, rules)
    assert len(found) == 1
    assert "(VI_1) uses multicast" in found[0] and "allow_ext_vrrp_mcast" in found[0]
    assert found[0].startswith("<string>:") and found[0].endswith("(warning)")


@pytest.mark.parametrize("rules", [SNIPPET,
                                   "allow_ext_vrrp_mcast 0/0\n",
                                   "iptables -A EXT_INPUT_CHAIN -p vrrp -s 10.10.50.0/24 "
                                   "-d 224.0.0.18 -j ACCEPT\n",
                                   "iptables -A EXT_INPUT_CHAIN -p 112 -j ACCEPT\n"])
def test_an_admitting_rule_silences_it(tmp_path, rules):
    assert problems(tmp_path, MULTICAST, rules) == []


def test_unicast_needs_no_rule(tmp_path):
    assert problems(tmp_path, UNICAST, None) == []


def test_not_an_astlinux_box_no_warning(tmp_path):
    config = check_text(MULTICAST).config
    assert config is not None
    assert firewall_problems(config, str(tmp_path / "absent" / "custom-rules")) == ()
