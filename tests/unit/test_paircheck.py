"""pair-check (issue 15): ten broken pairs, one mistake each, each named with both lines; clean
pairs, the guide's and three elsewhere, print one line and exit 0."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from astlinux_ha import cli, paircheck

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived"
MASTER = (SEED / "keepalived.conf.master").read_text()
BACKUP = (SEED / "keepalived.conf.backup").read_text()


def run(tmp_path: Path, master: str, backup: str) -> tuple[int, list[str]]:
    a, b = tmp_path / "master.conf", tmp_path / "backup.conf"
    a.write_text(master)
    b.write_text(backup)
    out = io.StringIO()
    code = paircheck.main([str(a), str(b)], out)
    return code, out.getvalue().splitlines()


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# (name, master text, backup text, words the finding says, master needle, backup needle)
BROKEN = [
    ("vrid", MASTER, sub(BACKUP, "virtual_router_id 50", "virtual_router_id 51"),
     "virtual_router_id 50 here, 51 there", "virtual_router_id", "virtual_router_id"),
    ("version", sub(MASTER, "advert_int 1", "advert_int 1\n    version 3"), BACKUP,
     "VRRP version 3 here, 2 there", "version 3", "vrrp_instance"),
    ("advert_int", MASTER, sub(BACKUP, "advert_int 1", "advert_int 2"),
     "advert_int 1 here, 2 there", "advert_int", "advert_int"),
    ("auth one side", sub(MASTER, "advert_int 1",
                          "advert_int 1\n    authentication {\n        auth_type PASS\n"
                          "        auth_pass secret\n    }"), BACKUP,
     "authentication PASS here, none there", "authentication", "vrrp_instance"),
    ("auth password", sub(MASTER, "advert_int 1",
                          "advert_int 1\n    authentication {\n        auth_type PASS\n"
                          "        auth_pass secret1\n    }"),
     sub(BACKUP, "advert_int 1", "advert_int 1\n    authentication {\n        auth_type PASS\n"
         "        auth_pass secret2\n    }"),
     "auth_pass differs", "authentication", "authentication"),
    ("peers", MASTER, sub(BACKUP, "unicast_peer {\n        10.10.50.62",
                          "unicast_peer {\n        10.10.50.63"),
     "does not list unicast_src_ip 10.10.50.62", "unicast_src_ip", "unicast_peer"),
    ("unicast vs multicast", MASTER, re.sub(r"(?s)    unicast_src_ip.*?}\n", "", BACKUP),
     "unicast here, multicast there", "unicast_peer", "vrrp_instance"),
    ("equal priorities, both MASTER", MASTER,
     sub(sub(BACKUP, "priority 99", "priority 100"), "state BACKUP", "state MASTER"),
     "both have priority 100", "    priority", "    priority"),
    ("backup outranks master", MASTER, sub(BACKUP, "priority 99", "priority 101"),
     "the master's priority 100 is below the backup's 101", "    priority", "    priority"),
    ("VIP sets differ", MASTER, sub(BACKUP, "10.10.50.244 dev eth0 label eth0:10",
                                    "10.10.50.244/24 dev eth0 label eth0:10"),
     "VIP 10.10.50.244/32 dev eth0 label eth0:10 here, 10.10.50.244/24", "10.10.50.244",
     "10.10.50.244"),
    ("nopreempt with state MASTER", sub(MASTER, "priority 100", "priority 100\n    nopreempt"),
     BACKUP, "nopreempt with state MASTER here", "nopreempt", "state BACKUP"),
]


@pytest.mark.parametrize("case", BROKEN, ids=[c[0] for c in BROKEN])
def test_each_mistake_is_named_with_both_lines(tmp_path, case):
    _name, master, backup, words, needle_a, needle_b = case
    code, lines = run(tmp_path, master, backup)
    assert code == 5, lines
    expected = (f"{tmp_path}/master.conf:{line_of(master, needle_a)}: "
                f"{tmp_path}/backup.conf:{line_of(backup, needle_b)}: ")
    hits = [line for line in lines if words in line]
    assert hits, lines
    assert hits[0].startswith(expected), (hits[0], expected)


def test_sync_groups_with_other_members_are_named(tmp_path):
    second = MASTER[MASTER.index("vrrp_instance"):].replace("VI_1", "VI_2").replace(
        "virtual_router_id 50", "virtual_router_id 51").replace("10.10.50.244", "10.10.50.245")
    second_b = BACKUP[BACKUP.index("vrrp_instance"):].replace("VI_1", "VI_2").replace(
        "virtual_router_id 50", "virtual_router_id 51").replace("10.10.50.244", "10.10.50.245")
    group = "vrrp_sync_group G1 {\n    group {\n        VI_1\n        VI_2\n    }\n}\n"
    half = "vrrp_sync_group G1 {\n    group {\n        VI_1\n    }\n}\n"
    code, lines = run(tmp_path, MASTER + second + group, BACKUP + second_b + half)
    assert code == 5
    assert any("sync group G1 holds VI_1 VI_2 here, VI_1 there" in line for line in lines)


def test_track_script_on_one_side_only_is_a_warning(tmp_path):
    master = sub(MASTER, "priority 100", "priority 100\n    track_script {\n        chk\n    }")
    master = "vrrp_script chk {\n    script /bin/true\n}\n" + master
    code, lines = run(tmp_path, master, BACKUP)
    assert code == 0
    assert [line for line in lines if line.endswith("track_script chk only here (warning)")]


CLEAN_MULTICAST = ("""vrrp_instance LAN {
    state MASTER
    interface eth1
    virtual_router_id 7
    priority 150
    advert_int 1
    virtual_ipaddress {
        192.168.7.1/24 dev eth1
    }
}
""", """vrrp_instance LAN {
    state BACKUP
    interface eth1
    virtual_router_id 7
    priority 120
    advert_int 1
    virtual_ipaddress {
        192.168.7.1/24 dev eth1
    }
}
""")

CLEAN_V6 = tuple(f"""vrrp_instance V6 {{
    state {state}
    interface eth2
    virtual_router_id 60
    version 3
    priority {prio}
    advert_int 0.5
    unicast_src_ip fd00:6::{me}
    unicast_peer {{
        fd00:6::{peer}
    }}
    virtual_ipaddress {{
        fd00:6::100/64 dev eth2
    }}
}}
""" for state, prio, me, peer in (("MASTER", 200, 1, 2), ("BACKUP", 100, 2, 1)))

CLEAN_GROUP = tuple(f"""vrrp_script chk_wan {{
    script "/bin/true"
    weight -20
}}
vrrp_sync_group EDGE {{
    group {{
        WAN
        LAN
    }}
}}
vrrp_instance WAN {{
    state {state}
    interface eth1
    virtual_router_id 11
    priority {prio}
    virtual_ipaddress {{
        203.0.113.10/32 dev eth1
    }}
    track_script {{
        chk_wan
    }}
}}
vrrp_instance LAN {{
    state {state}
    interface eth2
    virtual_router_id 12
    priority {prio}
    virtual_ipaddress {{
        172.16.1.1/24 dev eth2
    }}
}}
""" for state, prio in (("MASTER", 110), ("BACKUP", 100)))


@pytest.mark.parametrize("pair", [(MASTER, BACKUP), CLEAN_MULTICAST, CLEAN_V6, CLEAN_GROUP],
                         ids=["guide", "multicast eth1", "ipv6 v3 unicast", "sync group"])
def test_a_clean_pair_prints_one_line(tmp_path, pair):
    code, lines = run(tmp_path, *pair)
    assert code == 0 and len(lines) == 1 and "nothing to report" in lines[0], lines


def test_cli_hands_pair_check_over(tmp_path, capsys):
    (tmp_path / "a").write_text(MASTER)
    (tmp_path / "b").write_text(sub(BACKUP, "advert_int 1", "advert_int 3"))
    assert cli.main(["pair-check", str(tmp_path / "a"), str(tmp_path / "b")]) == 5
    assert "advert_int 1 here, 3 there" in capsys.readouterr().out


def test_a_config_that_cannot_run_exits_4(tmp_path):
    code, _ = run(tmp_path, MASTER, "vrrp_instance X {\n}\n")
    assert code == 4
