"""Scripts named by a config go through keepalived's start-up checks; -t reports the findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from astlinux_ha.config import check, check_text
from astlinux_ha.preflight import check as host_check
from astlinux_ha.preflight import check_scripts
from astlinux_ha.preflight.script_security import configured_scripts
from astlinux_ha.problems import Location, Severity

GLOBALS = "global_defs {\n  enable_script_security\n  script_user root\n}\n"


def conf(body: str, globals_: str = GLOBALS) -> str:
    return (
        f"{globals_}vrrp_script chk {{\n  script /bin/true\n}}\n"
        "vrrp_instance VI {\n  interface lo\n  virtual_router_id 9\n"
        f"  virtual_ipaddress {{\n    10.9.9.9\n  }}\n{body}}}\n"
    )


def make_script(directory: Path, mode: int = 0o755) -> Path:
    script = directory / "notify.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(mode)
    return script


def test_every_script_is_listed_with_its_keyword() -> None:
    text = (
        "global_defs {\n  vrrp_notify_fifo_script /bin/f\n}\n"
        + conf("  notify_master /bin/m\n  notify /bin/n\n", "")
        + "vrrp_sync_group G {\n  group {\n    VI\n  }\n  notify_backup /bin/g\n}\n"
    )
    result = check_text(text)
    assert result.config is not None
    listed = [(s.kind, s.command.command, s.track_name) for s in configured_scripts(result.config)]
    assert listed == [
        ("vrrp_notify_fifo_script", "/bin/f", None),
        ("vrrp_script", "/bin/true", "chk"),
        ("notify_master", "/bin/m", None),
        ("notify", "/bin/n", None),
        ("notify_backup", "/bin/g", None),
    ]


@pytest.mark.root
def test_safe_script_passes_and_gets_argv_and_user(tmp_path: Path) -> None:
    script = make_script(tmp_path)
    path = tmp_path / "k.conf"
    path.write_text(conf(f"  notify_master \"{script} 'a b' c\"\n"))
    result = host_check(str(path))
    assert result.problems == ()
    assert result.config is not None
    report = check_scripts(result.config)
    master = [c for c in report.checks if c.script.kind == "notify_master"][0]
    assert master.argv == (str(script), "a b", "c")
    assert master.user is not None and master.user.uid == 0
    assert master.runnable


@pytest.mark.root
def test_script_in_world_writable_dir_is_a_security_problem(tmp_path: Path) -> None:
    unsafe = tmp_path / "open"
    unsafe.mkdir()
    unsafe.chmod(0o777)
    script = make_script(unsafe)
    path = tmp_path / "k.conf"
    path.write_text(conf(f"  notify_master {script}\n"))
    result = host_check(str(path))
    assert result.exit_code == 6
    (problem,) = [p for p in result.problems if p.severity is Severity.SECURITY]
    line = path.read_text().splitlines().index(f"  notify_master {script}") + 1
    assert problem.where == Location(str(path), line)
    assert "Unsafe permissions" in problem.message


@pytest.mark.root
def test_scripts_without_script_security_are_a_violation(tmp_path: Path) -> None:
    script = make_script(tmp_path)
    path = tmp_path / "k.conf"
    path.write_text(conf(f"  notify_master {script}\n", "global_defs {\n  script_user root\n}\n"))
    result = host_check(str(path))
    assert result.exit_code == 6
    assert any("SECURITY VIOLATION" in p.message for p in result.problems)


@pytest.mark.root
def test_unknown_script_user_drops_the_script(tmp_path: Path) -> None:
    script = make_script(tmp_path)
    path = tmp_path / "k.conf"
    path.write_text(conf(f"  notify_master {script} no_such_user_here\n"))
    result = host_check(str(path))
    assert result.exit_code == 5
    assert any("no_such_user_here" in p.message for p in result.problems)
    assert result.config is not None
    master = [c for c in check_scripts(result.config).checks if c.script.kind == "notify_master"]
    assert master[0].user is None and not master[0].runnable


def test_unsplittable_command_is_an_error() -> None:
    # The first split leaves  /x.sh 'a  whose second split has no closing quote.
    result = check_text(conf('  notify_master "/x.sh \'a"\n'))
    assert result.config is not None
    report = check_scripts(result.config)
    (bad,) = [c for c in report.checks if c.script.kind == "notify_master"]
    assert bad.argv is None and not bad.runnable
    assert any("missing terminating '" in p.message for p in report.problems)


def test_scripts_are_not_checked_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "k.conf"
    path.write_text(conf("  notify_master /nonexistent/x.sh\n"))
    assert check(str(path)).exit_code == 0
    assert host_check(str(path)).exit_code != 0


def test_unknown_script_user_is_an_error_even_without_scripts(tmp_path: Path) -> None:
    path = tmp_path / "k.conf"
    path.write_text("global_defs {\n  script_user no_such_user_here\n}\n")
    result = host_check(str(path))
    assert result.exit_code == 5
    assert [p.render() for p in result.problems] == [
        f"{path}:2: Script user 'no_such_user_here' does not exist (warning)",
        f"{path}:2: Error setting global script uid/gid",
    ]
