"""keepalived 2.4.3 (what AstLinux ships) where it differs from Debian's 2.2.7, the oracle.

2.4.3's behaviour was measured on AstLinux and read in keepalived's source (vrrp_parser.c,
vrrp.c, lib/parser.c); each test names the case. Where 2.4.3 runs a config with a bad part
dropped, ours is runnable with an ERROR (``-t`` exits 5); where 2.4.3 will not run it, ours
has a FATAL problem (exit 4).
"""

from __future__ import annotations

from pathlib import Path

from astlinux_ha.config import CheckResult, check, check_text
from astlinux_ha.problems import Severity


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


def test_instance_without_interface_runs_unicast_from_its_source() -> None:
    # keepalived 2.4.3 accepts it (2.2.7 did not): adverts go unbound from unicast_src_ip.
    routed = inst(
        "VI_R",
        "  unicast_src_ip 192.0.2.1\n  unicast_peer {\n    192.0.2.2\n  }\n"
        "  virtual_ipaddress {\n    10.9.9.1 dev eth1\n  }",
        vrid=5,
        iface=None,
    )
    r = check_text(routed + inst("VI_2", VIP, vrid=2))
    assert r.runnable and r.exit_code == 0, messages(r, Severity.ERROR)
    assert names(r) == ["VI_R", "VI_2"]
    assert r.config is not None and r.config.instances[0].interface is None


def test_instance_without_interface_or_peers_is_dropped() -> None:
    lone = inst("VI_M", "  mcast_src_ip 192.0.2.1\n"
                "  virtual_ipaddress {\n    10.9.9.1 dev eth1\n  }", vrid=5, iface=None)
    r = check_text(lone + inst("VI_2", VIP, vrid=2))
    assert names(r) == ["VI_2"]
    assert any("(VI_M) multicast needs an interface" in m for m in messages(r, Severity.ERROR))


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


def test_only_instance_without_interface_or_source_cannot_run() -> None:
    r = check_text("frob 1\n" + inst("VI", "  priority 50", vrid=None, iface=None))
    assert not r.runnable and r.exit_code == 4
    assert any("(VI): Unicast instances must have unicast_src_ip or interface" in m
               for m in messages(r, Severity.ERROR))


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
    r = check_text("global_defs {\n  vrrp_version\n}\n" + inst("VI", VIP))
    assert not r.runnable
    assert messages(r, Severity.FATAL) == [
        "<string>:2: Configuration line starting 'vrrp_version' is missing a parameter"
        " after keyword 'vrrp_version'"
    ]


def test_notify_script_without_value_cannot_run() -> None:
    r = check_text(inst("VI", "  notify_master\n" + VIP))
    assert not r.runnable
    assert messages(r, Severity.FATAL) == [
        "<string>:4: Configuration line starting 'notify_master' is missing a parameter"
        " after keyword 'notify_master'"
    ]


def test_keywords_keepalived_checks_itself_only_lose_their_line() -> None:
    # router_id, script_user and the notify FIFOs say so and run without (keepalived -t: 5).
    text = (
        "global_defs {\n  router_id\n  script_user\n  notify_fifo\n  vrrp_notify_fifo_script\n}\n"
    )
    r = check_text(text + inst("VI", VIP))
    assert r.runnable and r.exit_code == 5
    assert messages(r, Severity.ERROR) == [
        "<string>:2: routerid name missing - ignoring",
        "<string>:3: No script username specified",
        "<string>:4: No notify_fifo name specified",
        "<string>:5: No vrrp_notify_fifo_script specified",
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


# --- new in 2.4.3 --------------------------------------------------------------------------


def test_duplicate_vip_is_dropped_with_a_warning() -> None:
    body = "  virtual_ipaddress {\n    10.9.9.9/24\n    10.9.9.8\n    10.9.9.9/24\n  }"
    r = check_text(inst("VI_1", body))
    assert r.exit_code == 0 and r.runnable
    assert r.config is not None
    (one,) = r.config.instances
    assert [str(v.address) for v in one.virtual_ipaddresses] == ["10.9.9.9", "10.9.9.8"]
    assert messages(r, Severity.WARNING) == [
        "<string>:7: (VI_1): VIP duplicates a VIP 10.9.9.9 - ignoring (warning)"
    ]


def test_same_vip_on_two_devices_is_not_a_duplicate() -> None:
    body = "  virtual_ipaddress {\n    10.9.9.9 dev eth1\n    10.9.9.9 dev eth2\n  }"
    r = check_text(inst("VI_1", body))
    assert r.problems == ()


def test_include_of_a_missing_file_is_reported(tmp_path: Path) -> None:
    # lib/parser.c: "Config files missing" for a plain include is reported with CONFIG_OK,
    # so 2.4.3's -t still exits 0: a warning here.
    main = tmp_path / "keepalived.conf"
    main.write_text("include nothere.conf\n" + inst("VI", VIP))
    r = check(str(main))
    assert r.exit_code == 0 and r.runnable
    assert messages(r, Severity.WARNING) == [
        f"{main}:1: Config files missing 'nothere.conf'. (warning)"
    ]


def test_include_in_a_missing_directory_is_reported(tmp_path: Path) -> None:
    main = tmp_path / "keepalived.conf"
    main.write_text("include conf.d/*.conf\n" + inst("VI", VIP))
    r = check(str(main))
    assert r.exit_code == 0
    assert messages(r, Severity.WARNING) == [
        f"{main}:1: Config files missing 'conf.d/*.conf'. (warning)"
    ]


def test_wildcard_matching_nothing_in_an_existing_directory_is_silent(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    main = tmp_path / "keepalived.conf"
    main.write_text("include conf.d/*.conf\n" + inst("VI", VIP))
    assert check(str(main)).problems == ()


def test_includem_of_a_missing_file_is_an_error(tmp_path: Path) -> None:
    # includem/includew/includea make a missing file a config error (CONFIG_FILE_NOT_FOUND).
    main = tmp_path / "keepalived.conf"
    main.write_text("includem nothere.conf\n" + inst("VI", VIP))
    r = check(str(main))
    assert r.exit_code == 5 and r.runnable
    assert messages(r, Severity.ERROR) == [f"{main}:1: Config files missing 'nothere.conf'."]


def test_brace_include_with_one_alternative_missing(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text(inst("VI", VIP))
    main = tmp_path / "keepalived.conf"
    main.write_text("include {a,b}.conf\n")
    r = check(str(main))
    assert names(r) == ["VI"] and r.exit_code == 0  # the found one is read
    assert messages(r, Severity.WARNING) == [
        f'{main}:1: Some config files missing: "{{a,b}}.conf". (warning)'
    ]
    main.write_text("includeb {a,b}.conf\n" + inst("VJ", VIP, vrid=2))
    r = check(str(main))
    assert names(r) == ["VJ"] and r.exit_code == 5  # includeb: all of them or none
    assert messages(r, Severity.ERROR) == [f'{main}:1: Some config files missing: "{{a,b}}.conf".']


def test_includew_of_a_wildcard_matching_nothing_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    main = tmp_path / "keepalived.conf"
    main.write_text("includew conf.d/*.conf\n" + inst("VI", VIP))
    r = check(str(main))
    assert r.exit_code == 5
    assert messages(r, Severity.ERROR) == [f"{main}:1: No config files matched 'conf.d/*.conf'."]


def test_notify_deleted_without_a_script_is_a_flag() -> None:
    # keepalived.conf(5): its script is optional; keepalived -t exits 0 (2.2.7 and 2.4.3).
    r = check_text(inst("VI_1", VIP + "\n  notify_deleted", vrid=1))
    assert r.exit_code == 0, [p.render() for p in r.problems]
    assert r.config is not None
    notifies = r.config.instances[0].notifies
    assert notifies.report_deleted and notifies.deleted is None
