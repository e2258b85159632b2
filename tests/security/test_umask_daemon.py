"""The daemon's own umask, whatever its caller's: keepalived's 0177 unless -u or the config
says otherwise, and a pid file that is 0644 whatever the umask.

Started from a shell whose umask is 000 (a careless admin, a cron job), the old daemon kept
that umask under -n (pid file 0666, and so every file it created) and took 022 when detached.
The kernel shows a process's umask in /proc/PID/status, which is what is checked here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from lab import daemons
from lab.astlinux import PIDFILE
from lab.box import wait_until

pytestmark = [pytest.mark.root]

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived" / "keepalived.conf.master"
STATE = "/var/state/keepalived"
DAEMON = [sys.executable, "-m", "astlinux_ha", "-f", daemons.CONF]
CARELESS = ["sh", "-c", 'umask 000 && exec "$@"', "sh"]


def umask_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"(?m)^Umask:\s+([0-7]+)$", status)
    assert match, status
    return int(match.group(1), 8)


def mode(box, path: str) -> int:
    return int(box.run(["stat", "-c", "%a", path]).stdout, 8)


@pytest.fixture
def box(lab):
    the_box = lab.add_box("ha", "10.10.50.62/24")
    daemons.install_config(the_box, SEED.read_text())
    return the_box


def foreground(box, *extra: str):
    proc = box.spawn([*CARELESS, *DAEMON, "-n", "-l", *extra], name="astlinux-ha")
    assert daemons.wait_ready(proc, 15), proc.log_text()
    return proc


@pytest.mark.parametrize(("extra", "expected"), [((), 0o177), (("-u", "0133"), 0o133)])
def test_foreground_daemon_does_not_keep_its_callers_umask(box, extra, expected):
    proc = foreground(box, *extra)
    assert umask_of(proc.pid) == expected
    assert mode(box, PIDFILE) == 0o644
    # The state files have modes of their own (state.py), whatever the umask.
    assert wait_until(lambda: box.exists(f"{STATE}/transitions.jsonl"), 10)
    assert mode(box, f"{STATE}/status.json") == mode(box, f"{STATE}/transitions.jsonl") == 0o644
    assert int(box.read(PIDFILE)) == proc.pid
    assert proc.stop() == 0


def test_config_umask_is_the_daemons_too(box):
    text = SEED.read_text().replace("global_defs {\n", "global_defs {\n   umask 0137\n")
    daemons.install_config(box, text)
    proc = foreground(box)
    assert umask_of(proc.pid) == 0o137
    assert mode(box, PIDFILE) == 0o644
    assert proc.stop() == 0
    # -u wins over the config, as in keepalived.
    proc = foreground(box, "-u", "0133")
    assert umask_of(proc.pid) == 0o133
    assert proc.stop() == 0


def test_detached_daemon_has_keepalived_umask_not_022(box):
    launcher = box.run([*CARELESS, *DAEMON], check=False, timeout=30)
    assert launcher.returncode == 0, launcher.stderr
    assert wait_until(lambda: box.exists(PIDFILE) and box.read(PIDFILE).strip().isdigit(), 10)
    pid = int(box.read(PIDFILE))
    try:
        assert umask_of(pid) == 0o177
        assert mode(box, PIDFILE) == 0o644
    finally:
        box.run(["kill", str(pid)], check=False)
        assert wait_until(lambda: not Path(f"/proc/{pid}").exists(), 10)
