"""keepalived 2.4.3 (what AstLinux ships) where it differs from Debian's 2.2.7, the oracle.

2.4.3's behaviour was measured on AstLinux and read in keepalived's source (vrrp_parser.c,
vrrp.c, lib/parser.c); each test names the case. Where 2.4.3 runs a config with a bad part
dropped, ours is runnable with an ERROR (``-t`` exits 5); where 2.4.3 will not run it, ours
has a FATAL problem (exit 4).
"""

from __future__ import annotations

from astlinux_ha.config import CheckResult, check_text
from astlinux_ha.config.model import Severity


def inst(name: str, body: str, vrid: int | None = 1, iface: str | None = "eth0") -> str:
    lines = [f"vrrp_instance {name} {{"]
    if iface is not None:
        lines.append(f"  interface {iface}")
    if vrid is not None:
        lines.append(f"  virtual_router_id {vrid}")
    lines += [body, "}", ""]
    return "\n".join(lines)


VIP = "  virtual_ipaddress {\n    10.9.9.9\n  }"


def messages(r: CheckResult, severity: Severity) -> list[str]:
    return [p.render() for p in r.problems if p.severity is severity]


def names(r: CheckResult) -> list[str]:
    assert r.config is not None
    return [i.name for i in r.config.instances]


# --- 2.4.3 runs what can run ---------------------------------------------------------------


def test_duplicate_instance_name_keeps_the_first_and_runs() -> None:
    text = inst("VI_1", "  priority 90\n" + VIP, vrid=1) + inst("VI_1", VIP, vrid=2)
    r = check_text(text)
    assert r.runnable and r.exit_code == 5
    assert r.config is not None
    (kept,) = r.config.instances
    assert (kept.virtual_router_id, kept.priority) == (1, 90)  # the first copy
    assert messages(r, Severity.ERROR) == ["<string>:9: vrrp instance VI_1 already defined"]


def test_instance_without_interface_is_dropped_and_the_others_run() -> None:
    routed = inst(
        "VI_R",
        "  unicast_src_ip 192.0.2.1\n  unicast_peer {\n    192.0.2.2\n  }\n"
        "  virtual_ipaddress {\n    10.9.9.1 dev eth1\n  }",
        vrid=5,
        iface=None,
    )
    r = check_text(routed + inst("VI_2", VIP, vrid=2))
    assert r.runnable and r.exit_code == 5
    assert names(r) == ["VI_2"]
    (err,) = messages(r, Severity.ERROR)
    assert err.startswith("<string>:1: (VI_R) no 'interface' given")
    assert "cannot run" in err  # says why: not that the config is wrong


def test_instance_without_interface_follows_keepalived_rules_first() -> None:
    # vrrp.c vrrp_complete_instance: no interface needs unicast_src_ip; a VIP needs a dev.
    no_src = inst("VI_A", "  unicast_peer {\n    192.0.2.2\n  }\n" + VIP, vrid=5, iface=None)
    r = check_text(no_src + inst("VI_2", VIP, vrid=2))
    assert names(r) == ["VI_2"]
    assert any(
        "(VI_A): Unicast instances must have unicast_src_ip or interface" in m
        for m in messages(r, Severity.ERROR)
    )
    no_dev = inst(
        "VI_B",
        "  unicast_src_ip 192.0.2.1\n  unicast_peer {\n    192.0.2.2\n  }\n" + VIP,
        vrid=5,
        iface=None,
    )
    r = check_text(no_dev + inst("VI_2", VIP, vrid=2))
    assert any(
        "(VI_B): no interface for vip 10.9.9.9 - removing" in m for m in messages(r, Severity.ERROR)
    )


def test_only_instance_without_interface_cannot_run() -> None:
    r = check_text("frob 1\n" + inst("VI", "  priority 50", vrid=None, iface=None))
    assert not r.runnable and r.exit_code == 4
    assert any("(VI) no 'interface' given" in m for m in messages(r, Severity.ERROR))


def test_invalid_instance_is_dropped_and_the_others_run() -> None:
    r = check_text(inst("VI_1", VIP, vrid=None) + inst("VI_2", VIP, vrid=2))
    assert r.runnable and r.exit_code == 5
    assert names(r) == ["VI_2"]
    assert any("(VI_1)" in m and "virtual_router_id" in m for m in messages(r, Severity.ERROR))


def test_no_instance_left_cannot_run() -> None:
    r = check_text(inst("VI_1", VIP, vrid=None) + inst("VI_2", VIP, vrid=None))
    assert not r.runnable and r.exit_code == 4
    assert r.config is not None and r.config.instances == ()
    assert any("no vrrp_instance is left" in m for m in messages(r, Severity.FATAL))


def test_a_config_without_instances_is_unchanged() -> None:
    assert check_text("global_defs {\n  router_id R\n}\n").exit_code == 0


# --- 2.4.3 refuses -------------------------------------------------------------------------


def test_state_without_value_cannot_run() -> None:
    r = check_text(inst("VI", "  state\n" + VIP))
    assert not r.runnable and r.exit_code == 4
    assert messages(r, Severity.FATAL) == [
        "<string>:4: Configuration line starting 'state' is missing a parameter"
        " after keyword 'state'"
    ]


def test_global_keyword_without_value_cannot_run() -> None:
    r = check_text("global_defs {\n  router_id\n}\n" + inst("VI", VIP))
    assert not r.runnable
    assert messages(r, Severity.FATAL) == [
        "<string>:2: Configuration line starting 'router_id' is missing a parameter"
        " after keyword 'router_id'"
    ]


def test_unknown_keyword_in_authentication_is_not_a_missing_parameter() -> None:
    body = "  authentication {\n    auth_type PASS\n    auth_pass x\n    frob\n  }\n" + VIP
    r = check_text(inst("VI", body))
    assert r.runnable and r.exit_code == 5


def test_extra_closing_brace_cannot_run() -> None:
    # The '}' after priority ends VI early; 2.4.3 ("Extra '}' found") will not run it.
    r = check_text(inst("VI", "  priority 90\n  }\n" + VIP))
    assert not r.runnable and r.exit_code == 4
    assert any("extra '}'" in m for m in messages(r, Severity.FATAL))


def test_missing_closing_brace_cannot_run() -> None:
    r = check_text("vrrp_instance VI {\n  interface eth0\n  virtual_router_id 1\n" + VIP)
    assert not r.runnable and r.exit_code == 4
    assert any("missing '}'" in m and ":1:" in m for m in messages(r, Severity.FATAL))


def test_a_stray_opening_brace_left_open_cannot_run() -> None:
    r = check_text(inst("VI", VIP) + "{\n  priority 5\n")
    assert not r.runnable
    assert messages(r, Severity.FATAL) == ["<string>:8: missing '}' for the '{' here - cannot run"]


def test_a_reader_that_stopped_early_adds_no_missing_brace() -> None:
    r = check_text("global_defs {\n" + "\x01 junk\n" * 3)
    assert [p.message for p in r.problems if "missing '}'" in p.message] == []
