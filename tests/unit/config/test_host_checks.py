"""-t warns about interfaces this host does not have, wherever the config names them."""

from __future__ import annotations

from astlinux_ha.config import check_text
from astlinux_ha.preflight.host_checks import interface_problems
from astlinux_ha.problems import Severity

TEXT = """vrrp_instance VI {
  interface eth0
  virtual_router_id 1
  track_interface {
    wan0 weight -10
  }
  virtual_ipaddress {
    10.0.0.1/24 dev eth0
    10.0.1.1/24 dev dmz0
  }
}
"""


def test_missing_interfaces_are_warnings_with_their_lines() -> None:
    config = check_text(TEXT, "k.conf").config
    assert config is not None
    present = {"eth0"}
    problems = interface_problems(config, exists=present.__contains__)
    assert [p.render() for p in problems] == [
        "k.conf:5: interface wan0 for track_interface of VI doesn't exist (warning)",
        "k.conf:9: interface dmz0 for ip address 10.0.1.1 doesn't exist (warning)",
    ]
    assert {p.severity for p in problems} == {Severity.WARNING}


def test_real_lookup_knows_loopback() -> None:
    config = check_text(TEXT.replace("eth0", "lo"), "k.conf").config
    assert config is not None
    names = {p.message.split()[1] for p in interface_problems(config)}
    assert "lo" not in names and "wan0" in names
