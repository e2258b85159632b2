"""use_vmac in the config reader and the plan: which macvlan, which MAC, where the VIPs go,
which interface the instance listens and sends on."""

from __future__ import annotations

import ipaddress

import pytest

from astlinux_ha.config import check_text
from astlinux_ha.net.vmac import VmacSpec, virtual_mac
from astlinux_ha.runtime import plan as P


def instance(body: str, vips: str = "10.10.50.244\n10.10.50.245 dev eth0 label eth0:10\n"
             "10.10.60.1 dev eth1") -> object:
    text = f"""vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 50
    {body}
    virtual_ipaddress {{
        {vips}
    }}
}}
"""
    result = check_text(text)
    assert result.config is not None, [p.render() for p in result.problems]
    return result


def only(result: object) -> object:
    return result.config.instances[0]  # type: ignore[attr-defined]


def planned(result: object) -> P.InstancePlan:
    config = result.config  # type: ignore[attr-defined]
    return P.plan(config, config.instances[0], frozenset())


def test_virtual_mac_is_the_rfc_s() -> None:
    assert virtual_mac(50, 4) == "00:00:5e:00:01:32"
    assert virtual_mac(255, 6) == "00:00:5e:00:02:ff"


def test_use_vmac_names_the_macvlan_after_the_vrid() -> None:
    inst = only(instance("use_vmac"))
    assert P.vmac(inst) == VmacSpec("vrrp.50", "eth0", "00:00:5e:00:01:32", 4, False)


def test_use_vmac_with_a_name_and_xmit_base() -> None:
    inst = only(instance("use_vmac vmac50\n    vmac_xmit_base"))
    assert P.vmac(inst) == VmacSpec("vmac50", "eth0", "00:00:5e:00:01:32", 4, True)


def test_an_ipv6_instance_gets_the_ipv6_virtual_mac() -> None:
    inst = only(instance("use_vmac", vips="fd00::244"))
    spec = P.vmac(inst)
    assert spec is not None and (spec.mac, spec.family) == ("00:00:5e:00:02:32", 6)


def test_without_use_vmac_there_is_no_macvlan() -> None:
    p = planned(instance(""))
    assert p.vmac is None and P.vmac_sender(p) is None
    assert {v.ifname for v in p.vips} == {"eth0", "eth1"}


def test_vips_of_the_base_move_to_the_macvlan_with_their_labels() -> None:
    got = [(str(v.address), v.ifname, v.label) for v in planned(instance("use_vmac")).vips]
    # dev eth1 is another link: it stays there, as keepalived leaves it.
    assert got == [("10.10.50.244", "vrrp.50", None), ("10.10.50.245", "vrrp.50", "eth0:10"),
                   ("10.10.60.1", "eth1", None)]


@pytest.mark.parametrize("peers", ["", "\n    unicast_peer {\n        10.10.50.65\n    }"],
                         ids=["multicast", "unicast"])
def test_adverts_leave_from_the_macvlan_and_are_heard_on_the_base(peers: str) -> None:
    result = instance("use_vmac" + peers)
    assert P.socket_key(only(result), ipaddress.ip_address("10.10.50.62")).ifname == "eth0"
    assert P.vmac_sender(planned(result)) == "vrrp.50"


def test_vmac_xmit_base_sends_from_the_base() -> None:
    result = instance("use_vmac\n    vmac_xmit_base")
    assert P.socket_key(only(result), ipaddress.ip_address("10.10.50.62")).ifname == "eth0"
    assert P.vmac_sender(planned(result)) is None


@pytest.mark.parametrize("body", ["use_vmac", "use_vmac vrrp-x", "vmac_xmit_base"])
def test_use_vmac_is_accepted_without_a_warning(body: str) -> None:
    result = instance(body)
    assert not [p for p in result.problems if "vmac" in p.render()]  # type: ignore[attr-defined]


def test_a_vmac_name_too_long_for_an_interface_is_an_error() -> None:
    result = instance("use_vmac abcdefghijklmnop")
    assert P.vmac(only(result)) is None
    assert any("names have at most 15 characters" in p.render()
               for p in result.problems)  # type: ignore[attr-defined]


def test_an_ipv6_instance_beside_an_ipv4_one_of_its_vrid_is_vrrp6() -> None:
    """keepalived 2.2.7 in the lab: VI_1 (IPv4) and VI_6 (IPv6), both VRID 50 with use_vmac,
    get vrrp.50 and vrrp6.50; VI_6 alone gets vrrp.50."""
    text = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 50
    use_vmac
    virtual_ipaddress {
        10.10.50.244
    }
}
vrrp_instance VI_6 {
    interface eth0
    virtual_router_id 50
    version 3
    use_vmac
    virtual_ipaddress {
        fd00::244
    }
}
"""
    config = check_text(text).config
    assert config is not None
    names = [P.plan(config, i, frozenset()).vmac.ifname  # type: ignore[union-attr]
             for i in config.instances]
    assert names == ["vrrp.50", "vrrp6.50"]
    alone = check_text(text[text.index("vrrp_instance VI_6"):]).config
    assert alone is not None
    assert P.plan(alone, alone.instances[0], frozenset()).vmac.ifname == "vrrp.50"  # type: ignore[union-attr]
