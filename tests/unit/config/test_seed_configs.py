"""The seed's master and backup configs parse to exactly the model the user's guide describes."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from astlinux_ha.config import check, load
from astlinux_ha.config.model import (
    GlobalDefs,
    Notifies,
    State,
    UnicastPeer,
    UserGroup,
    VirtualAddress,
    VrrpInstance,
)
from astlinux_ha.problems import Location
from astlinux_ha.vrrp.model import Garp

ETC = Path(__file__).resolve().parents[3] / "etc" / "keepalived"


def expected(path: str, state: State, priority: int, src: str, peer: str) -> tuple:
    def at(line: int) -> Location:
        return Location(path, line)

    globals_ = GlobalDefs(
        where=at(3),
        router_id="ASTLINUX",
        enable_script_security=True,
        script_user=UserGroup("root", "root", at(6)),
        vrrp_check_unicast_src=True,
    )
    instance = VrrpInstance(
        name="VI_1",
        where=at(10),
        interface="eth0",
        virtual_router_id=50,
        state=state,
        priority=priority,
        advert_int=1.0,
        version=2,
        unicast_src_ip=ipaddress.IPv4Address(src),
        unicast_peers=(UnicastPeer(ipaddress.IPv4Address(peer), at(26)),),
        virtual_ipaddresses=(
            VirtualAddress(
                ipaddress.IPv4Address("10.10.50.244"), 32, at(30), device="eth0", label="eth0:10"
            ),
        ),
        check_unicast_src=True,
        accept=True,  # keepalived's default outside strict mode
        explicit=frozenset({"state", "priority", "advert_int", "virtual_router_id"}),
    )
    return globals_, instance


@pytest.mark.parametrize(
    ("name", "state", "priority", "src", "peer"),
    [
        ("keepalived.conf.master", State.MASTER, 100, "10.10.50.62", "10.10.50.65"),
        ("keepalived.conf.backup", State.BACKUP, 99, "10.10.50.65", "10.10.50.62"),
    ],
)
def test_seed_config_model(name: str, state: State, priority: int, src: str, peer: str) -> None:
    path = str(ETC / name)
    result = check(path)
    assert result.problems == ()
    assert result.exit_code == 0
    config = load(path)
    globals_, instance = expected(path, state, priority, src, peer)
    assert config.global_defs == globals_
    assert config.instances == (instance,)
    assert config.scripts == () and config.sync_groups == ()
    assert config.files == (path,)
    got = config.instances[0]
    # Every field, one by one, so a failure names the field.
    for f in dataclasses.fields(VrrpInstance):
        assert getattr(got, f.name) == getattr(instance, f.name), f.name
    # keepalived's defaults the guide relies on
    assert got.garp == Garp(
        master_delay=5.0, master_repeat=5, master_refresh=0.0, master_refresh_repeat=1,
        lower_prio_delay=5.0, lower_prio_repeat=5,
    )
    assert got.down_timer_adverts == 3 and got.nopreempt is False and got.preempt_delay == 0
    assert got.notifies == Notifies() and got.authentication is None
    assert got.family == 4 and got.unicast is True
    assert str(got.virtual_ipaddresses[0].where) == f"{path}:30"
