"""no_accept's firewall: the nft script (the tables keepalived 2.2.7 writes, measured in the
lab), which addresses an instance drops, the Firewall's union of instances and its failure
reporting, and -t's strict-mode and nft checks."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from astlinux_ha.config import check_text
from astlinux_ha.net import nftables
from astlinux_ha.net.nftables import Drop, Firewall, ruleset, run_nft
from astlinux_ha.preflight.host_checks import nft_problems
from astlinux_ha.runtime import accept
from astlinux_ha.runtime.plan import excluded_vips, vips

V4 = ipaddress.ip_address("10.10.50.244")
V6 = ipaddress.ip_address("2001:db8::244")
LL = ipaddress.ip_address("fe80::244")

# `nft list ruleset` in the lab with keepalived 2.2.7 as master with no_accept (IPv4).
KEEPALIVED_V4 = """\
table ip keepalived {
	set vips {
		type ipv4_addr
		elements = { 10.10.50.244 }
	}
	chain in {
		type filter hook input priority -1; policy accept;
		ip daddr @vips drop
	}
	chain out {
		type filter hook output priority -1; policy accept;
		ip saddr @vips drop
	}
}
"""

CONF = """vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 50
    priority {priority}
    {extra}
    virtual_ipaddress {{
        10.10.50.244/24 dev eth0
    }}
    virtual_ipaddress_excluded {{
        10.10.60.1 dev eth1
    }}
}}
"""


def instance(priority: int = 100, extra: str = "", globals_: str = ""):
    result = check_text(globals_ + CONF.format(priority=priority, extra=extra), "k.conf")
    assert result.config is not None, [p.render() for p in result.problems]
    return result


def drops_of(**kw) -> tuple[Drop, ...]:
    inst = instance(**kw).config.instances[0]
    return accept.drops(inst, [*vips(inst), *excluded_vips(inst)])


# ------------------------------------------------------------ the script


def test_ipv4_table_is_keepalived_s_after_clearing_both_leftovers() -> None:
    script = ruleset([Drop(V4, "eth0")])
    head = ("add table ip keepalived\ndelete table ip keepalived\n"
            "add table ip6 keepalived\ndelete table ip6 keepalived\n")
    assert script == head + KEEPALIVED_V4


def test_nothing_dropped_only_deletes_the_tables() -> None:
    assert ruleset([]) == ("add table ip keepalived\ndelete table ip keepalived\n"
                           "add table ip6 keepalived\ndelete table ip6 keepalived\n")


def test_ipv6_lets_neighbour_discovery_through_and_keys_link_local_on_the_interface() -> None:
    script = ruleset([Drop(V6, "eth0"), Drop(LL, "eth0"), Drop(V6, "eth0")])
    assert "table ip keepalived {" not in script
    v6 = script[script.index("table ip6 keepalived {"):]
    assert "elements = { 2001:db8::244 }" in v6  # once, though asked twice
    assert 'elements = { fe80::244 . "eth0" }' in v6
    for chain, field, iface in (("in", "daddr", "iifname"), ("out", "saddr", "oifname")):
        body = v6[v6.index(f"chain {chain} {{"):]
        rules = body[:body.index("\n\t}")].splitlines()[2:]
        assert [r.strip() for r in rules] == [
            "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept",
            f"ip6 {field} fe80::/10 goto {chain}_link_local",
            f"ip6 {field} @vips drop",
        ]
        assert f"ip6 {field} . {iface} @vips_link_local drop" in v6


def test_an_interface_name_never_writes_nft_syntax() -> None:
    with pytest.raises(ValueError):
        ruleset([Drop(LL, 'eth0" ; flush ruleset ; "')])
    ruleset([Drop(V4, 'eth0" ; x')])  # IPv4 never names the interface


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
                    reason="needs root, nft and unshare")
def test_nft_takes_the_script_twice_in_a_fresh_namespace(tmp_path: Path) -> None:
    script = tmp_path / "r.nft"
    script.write_text(ruleset([Drop(V4, "eth0"), Drop(V6, "eth0"), Drop(LL, "eth0")]))
    shell = f"nft -f {script} && nft -f {script} && nft list ruleset"
    proc = subprocess.run(["unshare", "-n", "sh", "-c", shell], capture_output=True, text=True,
                          timeout=20, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("table ip keepalived") == 1
    assert "elements = { 10.10.50.244 }" in proc.stdout


# ------------------------------------------------------------ which addresses


def test_no_accept_drops_the_vips_and_the_excluded_vips() -> None:
    assert [(str(d.address), d.ifname) for d in drops_of(extra="no_accept")] == [
        ("10.10.50.244", "eth0"), ("10.10.60.1", "eth1")]


def test_accept_and_the_address_owner_drop_nothing() -> None:
    assert drops_of() == ()
    assert drops_of(extra="accept") == ()
    assert drops_of(priority=255, extra="no_accept") == ()


def test_strict_mode_implies_no_accept_unless_asked_or_owner() -> None:
    strict = "global_defs {\n vrrp_strict\n}\n"
    assert len(drops_of(globals_=strict)) == 2
    assert drops_of(globals_=strict, extra="strict_mode off") == ()
    assert drops_of(globals_=strict, priority=255, extra="state MASTER") == ()


# ------------------------------------------------------------ the Firewall


def fake_nft(tmp_path: Path, rc: int = 0) -> tuple[str, Path]:
    out = tmp_path / "scripts"
    nft = tmp_path / "nft"
    nft.write_text(f"#!/bin/sh\n[ \"$1 $2\" = '-f -' ] || exit 9\ncat >> {out}\n"
                   f"echo '--' >> {out}\necho 'Error: denied' >&2\nexit {rc}\n")
    nft.chmod(0o755)
    return str(nft), out


def test_firewall_applies_the_union_of_instances_and_ends_each(tmp_path: Path) -> None:
    nft, out = fake_nft(tmp_path)
    log = logging.getLogger("test.nft")

    async def go() -> None:
        fw = Firewall(log, nft)
        await fw.clean()
        await fw.block("VI_1", [Drop(V4, "eth0")])
        await fw.block("VI_2", [Drop(V6, "eth0")])
        await fw.unblock("VI_1")
        await fw.unblock("VI_1")  # twice: nft is not run again
        await fw.close()

    asyncio.run(go())
    runs = out.read_text().split("--\n")[:-1]
    assert runs == [ruleset([]), ruleset([Drop(V4, "eth0")]),
                    ruleset([Drop(V4, "eth0"), Drop(V6, "eth0")]),
                    ruleset([Drop(V6, "eth0")]), ruleset([])]


def test_firewall_failure_is_logged_once_with_its_reason(tmp_path: Path, caplog) -> None:
    nft, _ = fake_nft(tmp_path, rc=1)

    async def go() -> None:
        fw = Firewall(logging.getLogger("test.nft"), nft)
        for _ in range(3):
            await fw.block("VI_1", [Drop(V4, "eth0")])
            await fw.unblock("VI_1")

    with caplog.at_level(logging.INFO, "test.nft"):
        asyncio.run(go())
    assert [r.getMessage() for r in caplog.records] == [
        f"(VI_1) cannot set the no_accept firewall rules: {nft} exited 1: Error: denied"
        " - the VIPs answer as with accept"]


def test_a_hung_nft_is_killed(tmp_path: Path, monkeypatch) -> None:
    nft = tmp_path / "nft"
    nft.write_text("#!/bin/sh\nexec sleep 30\n")
    nft.chmod(0o755)
    monkeypatch.setattr(nftables, "NFT_TIMEOUT", 0.2)
    assert asyncio.run(run_nft("", str(nft))) == f"{nft} did not finish within 0.2 s"


def test_a_missing_nft_is_a_reason_not_an_exception() -> None:
    assert asyncio.run(run_nft("", "/nonexistent/nft")).startswith("cannot run /nonexistent/nft")


# ------------------------------------------------------------ -t


def test_t_warns_for_each_no_accept_instance_when_nft_is_missing() -> None:
    config = instance(extra="no_accept").config
    [problem] = nft_problems(config, find=lambda: None)
    assert problem.render() == ("k.conf:1: (VI_1) no_accept needs nft (install nftables): "
                                "without it the VIPs answer as with accept (warning)")
    assert nft_problems(config, find=lambda: "/usr/sbin/nft") == ()
    assert nft_problems(instance().config, find=lambda: None) == ()


def test_strict_mode_refuses_answering_lower_and_sending_to_higher_priority() -> None:
    strict = "global_defs {\n vrrp_strict\n}\n"
    result = instance(globals_=strict,
                      extra="lower_prio_no_advert false\n higher_prio_send_advert")
    assert [p.render() for p in result.problems] == [
        "k.conf:4: (VI_1) Strict mode requires no lower priority advert. resetting",
        "k.conf:4: (VI_1) strict mode requires higher_prio_send_advert to be clear. resetting",
    ]
    inst = result.config.instances[0]
    assert inst.lower_prio_no_advert and not inst.higher_prio_send_advert
    quiet = instance(globals_=strict)
    assert quiet.problems == ()
    assert quiet.config.instances[0].lower_prio_no_advert


def test_nft_comes_from_the_system_not_from_an_inherited_path(tmp_path, monkeypatch):
    # The attack: a PATH with a planted nft ahead of the system's, inherited by the root daemon.
    planted, system = tmp_path / "planted", tmp_path / "sbin"
    for d in (planted, system):
        d.mkdir()
        (d / "nft").write_text("#!/bin/sh\n")
        (d / "nft").chmod(0o755)
    monkeypatch.setenv("PATH", str(planted))
    monkeypatch.setattr(nftables, "_NFT_FALLBACKS", (str(system / "nft"),))
    assert nftables.nft_path() == str(system / "nft")
    # Only when the system has none is PATH looked at.
    monkeypatch.setattr(nftables, "_NFT_FALLBACKS", (str(tmp_path / "none" / "nft"),))
    assert nftables.nft_path() == str(planted / "nft")
