"""use_vmac's default names are unique across the config, taken in config order, as
keepalived 2.2.7 picks them (measured in a netns: VI_6 / VI_4 on e0 and VI_4B on e1, all
VRID 50, got vrrp.50, vrrp1.50, vrrp2.50). Two instances with one name would share one
macvlan: the second's start deletes the first's as a leftover and makes it on its own base."""

from __future__ import annotations

from astlinux_ha.config import check_text
from astlinux_ha.runtime import plan as P


def _instance(name: str, ifname: str, vip: str, extra: str = "use_vmac") -> str:
    version = "version 3\n    " if ":" in vip else ""
    return f"""vrrp_instance {name} {{
    interface {ifname}
    virtual_router_id 50
    {version}{extra}
    virtual_ipaddress {{
        {vip}
    }}
}}
"""


def _names(text: str) -> list[str]:
    config = check_text(text).config
    assert config is not None
    return [P.plan(config, i, frozenset()).vmac.ifname  # type: ignore[union-attr]
            for i in config.instances]


def test_same_vrid_on_two_interfaces_gets_two_macvlans() -> None:
    text = _instance("VI_1", "eth0", "10.10.50.244") + _instance("VI_2", "eth1", "10.10.60.244")
    assert _names(text) == ["vrrp.50", "vrrp1.50"]


def test_names_follow_the_config_order_as_keepalived() -> None:
    text = (_instance("VI_6", "eth0", "fd00::50") + _instance("VI_4", "eth0", "10.10.50.50")
            + _instance("VI_4B", "eth1", "10.10.60.50"))
    assert _names(text) == ["vrrp.50", "vrrp1.50", "vrrp2.50"]
    # IPv4 first: the IPv6 one tries vrrp6 second, then vrrp1...
    text = (_instance("VI_4", "eth0", "10.10.50.50") + _instance("VI_6", "eth0", "fd00::50")
            + _instance("VI_6B", "eth1", "fd00:1::50"))
    assert _names(text) == ["vrrp.50", "vrrp6.50", "vrrp1.50"]


def test_a_configured_name_is_not_given_to_another() -> None:
    text = (_instance("VI_1", "eth0", "10.10.50.244")
            + _instance("VI_2", "eth1", "10.10.60.244", extra="use_vmac vrrp.50"))
    assert _names(text) == ["vrrp1.50", "vrrp.50"]
