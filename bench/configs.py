"""The configs the benchmarks run: the seed's pair and variants of it, and scale configs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lab.daemons import without_unicast

ROOT = Path(__file__).resolve().parent.parent
SEED_MASTER = ROOT / "etc/keepalived/keepalived.conf.master"
SEED_BACKUP = ROOT / "etc/keepalived/keepalived.conf.backup"
VIP = "10.10.50.244"
MASTER_PRIO, BACKUP_PRIO = 100, 99


@dataclass(frozen=True)
class Variant:
    """One failover scenario's configs: protocol version, advert interval, unicast or not."""

    key: str
    label: str
    version: int
    advert_int: float
    unicast: bool

    def conf(self, seed_text: str) -> str:
        """``seed_text`` turned into this variant."""
        text = seed_text
        if not self.unicast:
            text = without_unicast(text)
        if self.version == 3:
            text = re.sub(r"(?m)^(\s*)virtual_router_id\s+(\d+)\s*$",
                          r"\g<1>virtual_router_id \g<2>\n\g<1>version 3", text, count=1)
        if self.advert_int != 1.0:
            text, n = re.subn(r"(?m)^(\s*advert_int\s+)\S+", rf"\g<1>{self.advert_int:g}", text)
            assert n == 1, "seed config lost its advert_int line"
        return text

    def master_conf(self) -> str:
        return self.conf(SEED_MASTER.read_text())

    def backup_conf(self) -> str:
        return self.conf(SEED_BACKUP.read_text())


VARIANTS = [
    Variant("v2-1s-uni", "seed: v2, 1 s, unicast", 2, 1.0, True),
    Variant("v2-1s-mc", "v2, 1 s, multicast", 2, 1.0, False),
    Variant("v3-50ms-uni", "v3, 50 ms, unicast", 3, 0.05, True),
    Variant("v3-50ms-mc", "v3, 50 ms, multicast", 3, 0.05, False),
]
VARIANT = {v.key: v for v in VARIANTS}


def scale_conf(instances: int, advert_int: float = 1.0, state: str = "MASTER",
               priority: int = 100) -> str:
    """``instances`` multicast VRRP instances on eth0 (VRIDs 1..N), one VIP each."""
    if not 1 <= instances <= 255:
        raise ValueError("VRIDs go from 1 to 255")
    parts = ["global_defs {\n   router_id BENCH\n   enable_script_security\n"
             "   script_user root root\n}\n"]
    for n in range(1, instances + 1):
        parts.append(
            f"vrrp_instance VI_{n} {{\n    state {state}\n    interface eth0\n"
            f"    virtual_router_id {n}\n    advert_int {advert_int:g}\n"
            f"    priority {priority}\n    virtual_ipaddress {{\n"
            f"        {scale_vip(n)}/32 dev eth0\n    }}\n}}\n")
    return "\n".join(parts)


def scale_vip(n: int) -> str:
    """The VIP of scale instance ``n``."""
    return f"10.20.{n // 250}.{n % 250 + 1}"


CHECK_INTERFACES, CHECK_VRIDS = 20, 250


def check_ifname(i: int) -> str:
    """The name of the ``-t`` config's interface ``i`` (dummy links in the lab box)."""
    return f"tc{i}"


def check_conf(interfaces: int = CHECK_INTERFACES, vrids: int = CHECK_VRIDS) -> str:
    """``interfaces`` × ``vrids`` multicast instances, one VIP each, advert_int 1: a config
    keepalived accepts too (a VRID is unique per interface, 1..255)."""
    if not 1 <= vrids <= 255:
        raise ValueError("VRIDs go from 1 to 255")
    parts = ["global_defs {\n   router_id BENCH\n   enable_script_security\n"
             "   script_user root root\n}\n"]
    for i in range(interfaces):
        ifname = check_ifname(i)
        for v in range(1, vrids + 1):
            parts.append(
                f"vrrp_instance VI_{ifname}_{v} {{\n    state BACKUP\n    interface {ifname}\n"
                f"    virtual_router_id {v}\n    advert_int 1\n    priority 100\n"
                f"    virtual_ipaddress {{\n        10.{100 + i}.{v}.1/32 dev {ifname}\n"
                "    }\n}\n")
    return "\n".join(parts)
