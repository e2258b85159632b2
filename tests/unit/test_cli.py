"""``astlinux-ha -t``: exit codes and FILE:LINE lines on stderr; options handed to the daemon."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest

from astlinux_ha import cli
from astlinux_ha.config.model import Config

ROOT = Path(__file__).resolve().parents[2]
MASTER = ROOT / "etc" / "keepalived" / "keepalived.conf.master"


def expected_master_warnings() -> str:
    """-t warns (exit 0) when this host lacks the seed's eth0; silent where it exists."""
    try:
        socket.if_nametoindex("eth0")
    except OSError:
        lines = (10, 30)  # the instance and its VIP's 'dev eth0'
        return "".join(
            f"{MASTER}:{n}: interface eth0 for {what} doesn't exist (warning)\n"
            for n, what in zip(
                lines, ("vrrp_instance VI_1", "ip address 10.10.50.244"), strict=True
            )
        )
    return ""


def test_config_test_on_master_example_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-t", "-f", str(MASTER)]) == 0
    assert capsys.readouterr().err == expected_master_warnings()


def test_out_of_range_priority_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "keepalived.conf"
    bad.write_text(MASTER.read_text().replace("priority 100", "priority 256"))
    line = bad.read_text().splitlines().index("    priority 256") + 1
    assert cli.main(["-t", "-f", str(bad)]) == 5
    err = capsys.readouterr().err.splitlines()
    assert err == [f"{bad}:{line}: priority '256' invalid - must be an integer from 1 to 255"]


def test_fatal_config_exits_4_and_warnings_are_marked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "k.conf"
    bad.write_text("frob 1\nvrrp_instance VI {\n  priority 50\n}\n")
    assert cli.main(["--config-test", "--use-file", str(bad)]) == 4
    err = capsys.readouterr().err
    assert f"{bad}:1: unknown keyword 'frob'\n" in err
    assert f"{bad}:2: (VI): Unicast instances must have unicast_src_ip or interface" in err


def test_missing_file_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-t", "-f", str(tmp_path / "none.conf")]) == 4
    assert "none.conf" in capsys.readouterr().err


def test_run_path_hands_typed_options_to_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[cli.Options, Config]] = []
    fake = types.ModuleType("astlinux_ha.daemon")
    fake.run = lambda options, config, problems=(): seen.append((options, config)) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "astlinux_ha.daemon", fake)
    import astlinux_ha

    monkeypatch.setattr(astlinux_ha, "daemon", fake, raising=False)
    argv = [
        "-f",
        str(MASTER),
        "-n",
        "-l",
        "-D",
        "-S",
        "3",
        "-p",
        "/tmp/x.pid",
        "-P",
        "--state-dir",
        "/tmp/st",
        "-V",
        "-u",
        "0133",
    ]
    assert cli.main(argv) == 0
    ((options, config),) = seen
    assert options == cli.Options(
        config_file=str(MASTER),
        dont_fork=True,
        log_console=True,
        log_detail=True,
        log_facility=3,
        pid_file="/tmp/x.pid",
        state_dir="/tmp/st",
        release_vips=False,
        umask=0o133,
    )
    assert config.instances[0].name == "VI_1"


def test_run_path_refuses_fatal_config_before_daemon(tmp_path: Path) -> None:
    bad = tmp_path / "k.conf"
    bad.write_text("vrrp_instance VI {\n}\n")
    assert cli.main(["-f", str(bad)]) == 4


def test_bad_facility_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["-S", "9", "-t"])
    assert exc.value.code == 2


def test_python_m_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "astlinux_ha", "-t", "-f", str(MASTER)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert (proc.returncode, proc.stderr) == (0, expected_master_warnings())
    version = subprocess.run(
        [sys.executable, "-m", "astlinux_ha", "-v"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert version.stdout.startswith("astlinux-ha ")


def test_status_prints_the_state_dir_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = {
        "instances": {
            "VI_1": {
                "state": "MASTER",
                "priority": 100,
                "effective_priority": 100,
                "vips": ["10.10.50.244"],
            }
        }
    }
    (tmp_path / "status.json").write_text(json.dumps(status))
    assert cli.main(["--status", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["INSTANCE", "STATE"]
    assert out[1].split()[:2] == ["VI_1", "MASTER"]
    assert cli.main(["--status", "--state-dir", str(tmp_path / "none")]) == 3


@pytest.mark.root
def test_config_test_refused_script_exits_6(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    scripts.chmod(0o777)  # world-writable: enable_script_security refuses what is inside
    notify = scripts / "master.sh"
    notify.write_text("#!/bin/sh\n")
    notify.chmod(0o755)
    conf = tmp_path / "keepalived.conf"
    text = MASTER.read_text().replace(
        "    priority 100", f"    priority 100\n    notify_master {notify}"
    )
    conf.write_text(text)
    line = text.splitlines().index(f"    notify_master {notify}") + 1
    assert cli.main(["-t", "-f", str(conf)]) == 6
    err = capsys.readouterr().err
    assert f"{conf}:{line}: Disabling notify_master script: Unsafe permissions found" in err


def test_run_path_hands_problems_to_the_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handed: list[tuple[str, ...]] = []
    fake = types.ModuleType("astlinux_ha.daemon")
    fake.run = lambda options, config, problems: handed.append(problems) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "astlinux_ha.daemon", fake)
    import astlinux_ha

    monkeypatch.setattr(astlinux_ha, "daemon", fake, raising=False)
    conf = tmp_path / "k.conf"
    conf.write_text(MASTER.read_text().replace("    priority 100", "    priority 100\n    frob"))
    assert cli.main(["-f", str(conf), "-n"]) == 0
    # Handed to the daemon, which logs them (syslog; the console with -l) and keeps them for
    # --status; the init script prints them from its -t run, so stderr does not repeat them.
    assert len(handed) == 1 and any("unknown keyword 'frob'" in p for p in handed[0])
    assert "frob" not in capsys.readouterr().err


def test_config_test_takes_the_file_as_keepalived_does(tmp_path: Path) -> None:
    bad = tmp_path / "k.conf"
    bad.write_text("vrrp_instance VI {\n}\n")
    assert cli.parse_options([f"--config-test={MASTER}"]).config_file == str(MASTER)
    assert cli.main([f"--config-test={MASTER}"]) == 0
    assert cli.main(["-f", str(MASTER), f"--config-test={bad}"]) == 4
    assert cli.parse_options(["-t"]).config_file == cli.DEFAULT_CONFIG


def test_default_facility_is_daemon_like_keepalived() -> None:
    import logging.handlers

    from astlinux_ha.cli import parse_options
    from astlinux_ha.logsetup import facility_for

    assert facility_for(parse_options([]).log_facility) == logging.handlers.SysLogHandler.LOG_DAEMON
    assert facility_for(parse_options(["-S", "3"]).log_facility) == (
        logging.handlers.SysLogHandler.LOG_LOCAL3
    )
