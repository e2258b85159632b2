"""init.d/keepalived, verb by verb, run for real inside a lab box with AstLinux's paths.

One lab per module: ``make install DESTDIR=IMAGE`` once, the box boots from that image (like
AstLinux's read-only /etc and /usr/local), and every test starts from a freshly rebooted box
with an empty /mnt/kd. Most tests run the script under both ``dash`` and ``busybox ash`` (the
latter with busybox's applets first on PATH, as on AstLinux).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from lab_plugin import fresh_box

from lab import Lab
from lab.astlinux import KD_CONF, PIDFILE, SEED_MASTER, daemon_pids, service
from lab.daemons import without_unicast

pytestmark = [pytest.mark.root]

REPO = Path(__file__).resolve().parents[2]
VIP = "10.10.50.244"
USAGE = "Usage: init|start|stop|restart|reload|status\n"
# A lone box with `state MASTER` takes the VIP after the master-down interval (3 x 1 s + skew).
VIP_TIMEOUT = 8.0
ADVERT_INT = float(re.search(r"advert_int (\S+)", SEED_MASTER)[1])
SHELLS = ["dash", "ash"]
# -t exits 5: an error, the line dropped; keepalived runs the rest, and so does the service.
BROKEN = SEED_MASTER.replace("advert_int 1", "advert_int 1\n    no_such_keyword 7")
# -t exits 4: its only instance has no VRID, so nothing can run.
CANNOT_RUN = SEED_MASTER.replace("    virtual_router_id 50\n", "")
assert CANNOT_RUN != SEED_MASTER


@pytest.fixture
def box(image_lab: Lab):
    """The module's box, power-cycled: no daemon, empty /mnt/kd, pristine /etc and /var."""
    the_box = fresh_box(image_lab)
    yield the_box
    image_lab.reboot(the_box)  # whatever the test left running dies here


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def read_pid(box) -> int:
    return int(box.read(PIDFILE).strip())


def up(box, shell: str | None = None, conf: str = SEED_MASTER, processes: int = 1) -> int:
    """Config in /mnt/kd, ``init``; the daemon's pid."""
    box.write(KD_CONF, conf, mode=0o644)
    proc = service(box, "init", shell=shell)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Starting keepalived...\n"
    pids = daemon_pids(box)
    assert read_pid(box) == pids[0]
    # One daemon: ours is one process; keepalived is a parent with its VRRP child.
    assert len(pids) == processes
    return pids[0]


def test_shellcheck_posix_sh() -> None:
    proc = subprocess.run(["shellcheck", "-s", "sh", str(REPO / "init.d/keepalived")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_init_without_config_is_silent_and_starts_nothing(box, shell) -> None:
    proc = service(box, "init", shell=shell)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert daemon_pids(box) == []
    assert not box.exists(PIDFILE)
    assert box.run(["test", "-L", "/tmp/etc/keepalived"], check=False).returncode != 0


@pytest.mark.parametrize("shell", SHELLS)
def test_init_with_a_config_that_cannot_run_refuses_and_leaves_nothing(box, shell) -> None:
    box.write(KD_CONF, CANNOT_RUN, mode=0o644)
    proc = service(box, "init", shell=shell)
    assert proc.returncode != 0
    assert "Starting" not in proc.stdout
    assert f"{KD_CONF} cannot run" in proc.stderr
    # keepalived's FILE:LINE: message for the bad line, and a verdict.
    assert "keepalived.conf:" in proc.stderr and "virtual_router_id" in proc.stderr
    assert "not started" in proc.stderr
    assert daemon_pids(box) == []
    assert not box.exists(PIDFILE)
    # Nothing half-done: no /tmp/etc/keepalived link, no state dir.
    assert box.run(["test", "-L", "/tmp/etc/keepalived"], check=False).returncode != 0
    assert not box.exists("/var/state/keepalived")
    assert service(box, "status", shell=shell).returncode == 3


@pytest.mark.parametrize("shell", SHELLS)
def test_init_links_config_sets_sysctl_and_state_dir(box, shell) -> None:
    up(box, shell)
    assert box.run(["readlink", "/tmp/etc/keepalived"]).stdout.strip() == "/mnt/kd/keepalived"
    assert box.run(["readlink", "/etc/keepalived"]).stdout.strip() == "/tmp/etc/keepalived"
    assert box.exists("/var/state/keepalived/status.json")
    assert box.read("/proc/sys/net/ipv4/ip_nonlocal_bind").strip() == "1"


@pytest.mark.parametrize("shell", SHELLS)
def test_init_twice_keeps_one_daemon_and_applies_an_edit(box, shell) -> None:
    first = up(box, shell)
    again = service(box, "init", shell=shell)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "Stopping keepalived...\nStarting keepalived...\n"
    pids = daemon_pids(box)
    assert len(pids) == 1 and pids[0] != first
    # The seed's edit: priority 100 -> 150, then `init` applies it.
    box.write(KD_CONF, SEED_MASTER.replace("priority 100", "priority 150"))
    assert service(box, "init", shell=shell).returncode == 0
    assert len(daemon_pids(box)) == 1
    assert wait_for(lambda: " 150 " in service(box, "status", shell=shell).stdout, 5)


@pytest.mark.parametrize("shell", SHELLS)
def test_init_with_errors_starts_what_can_run_and_says_so(box, shell) -> None:
    # keepalived starts a config whose -t exits 5 (stock AstLinux never checks): a migrated
    # config with one bad line must not leave the router without HA.
    box.write(KD_CONF, BROKEN, mode=0o644)
    proc = service(box, "init", shell=shell)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Starting keepalived...\n"
    assert f"{KD_CONF} has problems; what can run runs" in proc.stderr
    assert re.search(r"keepalived\.conf:\d+: .*no_such_keyword", proc.stderr), proc.stderr
    assert len(daemon_pids(box)) == 1
    assert wait_for(lambda: box.holds(VIP), VIP_TIMEOUT)
    # ... and `status` keeps saying so while it runs.
    status = service(box, "status", shell=shell)
    assert "1 configuration problem(s)" in status.stdout, status.stdout
    assert "no_such_keyword" in status.stdout


def test_init_names_a_missing_multicast_firewall_rule(box) -> None:
    # The guide's Firewall section: multicast needs a rule in arno's custom-rules.
    box.run("mkdir -p /mnt/kd/arno-iptables-firewall")
    box.write(KD_CONF, without_unicast(SEED_MASTER), mode=0o644)
    proc = service(box, "init")
    assert proc.returncode == 0, proc.stderr
    assert "uses multicast, but /mnt/kd/arno-iptables-firewall/custom-rules" in proc.stderr
    assert "allow_ext_vrrp_mcast" in proc.stderr
    snippet = (REPO / "etc/arno-iptables-firewall/custom-rules.vrrp").read_text()
    box.write("/mnt/kd/arno-iptables-firewall/custom-rules", snippet)
    again = service(box, "init")
    assert again.returncode == 0 and "uses multicast" not in again.stderr, again.stderr


def test_init_with_an_edit_that_cannot_run_keeps_the_running_daemon(box) -> None:
    pid = up(box)
    box.write(KD_CONF, CANNOT_RUN)
    proc = service(box, "init")
    assert proc.returncode != 0
    assert "virtual_router_id" in proc.stderr
    assert f"keeps running (pid {pid})" in proc.stderr
    assert daemon_pids(box) == [pid] and read_pid(box) == pid


@pytest.mark.parametrize("shell", SHELLS)
def test_start_twice_starts_one_daemon(box, shell) -> None:
    pid = up(box, shell)
    proc = service(box, "start", shell=shell)
    assert proc.returncode == 0
    assert proc.stdout == f"keepalived is already running (pid {pid})\n"
    assert daemon_pids(box) == [pid]


def test_start_before_init_says_what_to_do(box) -> None:
    box.write(KD_CONF, SEED_MASTER)
    proc = service(box, "start")
    assert proc.returncode == 1
    assert "run 'service keepalived init'" in proc.stderr
    assert daemon_pids(box) == []


@pytest.mark.parametrize("shell", SHELLS)
def test_stop_removes_the_vip_before_returning_and_twice_is_fine(box, shell) -> None:
    up(box, shell)
    assert wait_for(lambda: box.holds(VIP), VIP_TIMEOUT), "the lone master never took the VIP"
    proc = service(box, "stop", shell=shell)
    assert (proc.returncode, proc.stdout) == (0, "Stopping keepalived...\n")
    # No waiting here: stop returns only once the daemon is gone and its VIP with it.
    assert daemon_pids(box) == []
    assert not box.holds(VIP)
    assert not box.exists(PIDFILE)
    twice = service(box, "stop", shell=shell)
    assert (twice.returncode, twice.stdout, twice.stderr) == (0, "", "")


@pytest.mark.parametrize("shell", SHELLS)
def test_status_stopped_and_running(box, shell) -> None:
    stopped = service(box, "status", shell=shell)
    assert (stopped.returncode, stopped.stdout) == (3, "keepalived is stopped\n")
    pid = up(box, shell)
    assert wait_for(lambda: box.holds(VIP), VIP_TIMEOUT)

    def master_row() -> bool:
        out = service(box, "status", shell=shell)
        return out.returncode == 0 and any(
            line.split()[:2] == ["VI_1", "MASTER"] for line in out.stdout.splitlines())

    assert wait_for(master_row, 3)
    out = service(box, "status", shell=shell).stdout.splitlines()
    assert out[0] == f"keepalived is running (pid {pid})"
    assert out[1].split() == ["INSTANCE", "STATE", "PRIORITY", "VIPS", "MASTER", "SINCE"]
    assert out[2].split()[:4] == ["VI_1", "MASTER", "100", VIP]


@pytest.mark.parametrize("shell", SHELLS)
def test_stale_pid_file_after_kill_9(box, shell) -> None:
    pid = up(box, shell)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: daemon_pids(box) == [], 5)
    assert box.exists(PIDFILE)  # left behind by the killed daemon
    status = service(box, "status", shell=shell)
    assert (status.returncode, status.stdout) == (3, "keepalived is stopped\n")
    assert not box.exists(PIDFILE)
    box.write(PIDFILE, f"{pid}\n")
    stop = service(box, "stop", shell=shell)
    assert (stop.returncode, stop.stdout) == (0, "")
    box.write(PIDFILE, f"{pid}\n")
    start = service(box, "start", shell=shell)
    assert (start.returncode, start.stdout) == (0, "Starting keepalived...\n"), start.stderr
    assert daemon_pids(box) == [read_pid(box)]
    assert service(box, "stop", shell=shell).returncode == 0
    assert not box.holds(VIP)


def test_pid_file_naming_another_program_is_not_killed(box) -> None:
    # A recycled pid: the box's own long-lived holder process (`sleep infinity`).
    other = box.holder_pid
    box.write(PIDFILE, f"{other}\n")
    assert service(box, "stop").returncode == 0
    assert service(box, "status").returncode == 3
    assert Path(f"/proc/{other}").exists()
    assert not box.exists(PIDFILE)


@pytest.mark.parametrize("shell", SHELLS)
def test_restart(box, shell) -> None:
    first = up(box, shell)
    proc = service(box, "restart", shell=shell)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Stopping keepalived...\nStarting keepalived...\n"
    second = daemon_pids(box)
    assert len(second) == 1 and second[0] != first
    # A config that cannot run is refused before the running daemon is stopped.
    box.write(KD_CONF, CANNOT_RUN)
    refused = service(box, "restart", shell=shell)
    assert refused.returncode != 0
    assert "not restarted; keepalived keeps running" in refused.stderr
    assert daemon_pids(box) == second
    # Restart of a stopped service starts it.
    box.write(KD_CONF, SEED_MASTER)
    assert service(box, "stop", shell=shell).returncode == 0
    assert service(box, "restart", shell=shell).returncode == 0
    assert len(daemon_pids(box)) == 1


@pytest.mark.parametrize("shell", SHELLS)
def test_reload(box, shell) -> None:
    not_running = service(box, "reload", shell=shell)
    assert not_running.returncode == 7 and "not running" in not_running.stderr
    pid = up(box, shell)
    box.write(KD_CONF, SEED_MASTER.replace("priority 100", "priority 120"))
    proc = service(box, "reload", shell=shell)
    assert (proc.returncode, proc.stdout) == (0, "Reloading keepalived...\n"), proc.stderr
    assert wait_for(lambda: " 120 " in service(box, "status", shell=shell).stdout, 5)
    assert daemon_pids(box) == [pid]  # SIGHUP: the same process
    box.write(KD_CONF, CANNOT_RUN)
    bad = service(box, "reload", shell=shell)
    assert bad.returncode != 0
    assert "virtual_router_id" in bad.stderr
    assert f"not reloaded; keepalived keeps running (pid {pid})" in bad.stderr
    # Nothing may happen to the daemon. Watch it for one advert interval of the seed (1 s):
    # a signal sent anyway is acted on well within it (the 1 KiB config parses in ~1 ms,
    # off the loop; a stop takes priority 0 out on the next advert at the latest).
    deadline = time.monotonic() + ADVERT_INT
    while time.monotonic() < deadline:
        assert daemon_pids(box) == [pid]
        assert " 120 " in service(box, "status", shell=shell).stdout
    # One with errors is applied (the bad line dropped), and reload prints the problems.
    box.write(KD_CONF, BROKEN.replace("priority 100", "priority 130"))
    applied = service(box, "reload", shell=shell)
    assert applied.returncode == 0, applied.stderr
    assert "no_such_keyword" in applied.stderr
    assert wait_for(lambda: " 130 " in service(box, "status", shell=shell).stdout, 5)
    assert daemon_pids(box) == [pid]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("verb", ["frobnicate", ""])
def test_unknown_verb(box, shell, verb) -> None:
    argv = {"dash": ["dash"], "ash": ["busybox", "ash"]}[shell]
    proc = box.run([*argv, "/etc/init.d/keepalived", *([verb] if verb else [])], check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", USAGE)


def test_keepalived_options_from_rc_conf(box) -> None:
    box.write("/etc/rc.conf",
              '## Auto-generated file, do not edit!!\nKEEPALIVED_OPTIONS="-D -S 3"\n')
    pid = up(box)
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert [b"-D", b"-S", b"3", b"-f", b"/etc/keepalived/keepalived.conf"] == argv[-6:-1]


def test_keepalived_daemon_override(box) -> None:
    box.write("/usr/local/bin/vrrpd",
              '#!/bin/sh\necho "$*" >> /var/state/vrrpd.calls\n'
              'exec /usr/local/sbin/astlinux-ha "$@"\n', mode=0o755)
    box.write("/etc/rc.conf", 'KEEPALIVED_DAEMON="/usr/local/bin/vrrpd"\n')
    up(box)
    calls = box.read("/var/state/vrrpd.calls").splitlines()
    assert calls == ["-t -f /etc/keepalived/keepalived.conf", "-f /etc/keepalived/keepalived.conf"]
    assert service(box, "status").returncode == 0
    assert service(box, "stop").returncode == 0
    box.write("/etc/rc.conf", 'KEEPALIVED_DAEMON="/opt/nowhere/vrrpd"\n')
    proc = service(box, "init")
    assert proc.returncode == 1
    assert "daemon /opt/nowhere/vrrpd not found" in proc.stderr
    assert daemon_pids(box) == []


def test_init_without_the_image_link_links_etc_directly(box) -> None:
    # Not an AstLinux image: no /etc/keepalived at all.
    box.run(["rm", "/etc/keepalived"])
    up(box)
    assert box.run(["readlink", "/etc/keepalived"]).stdout.strip() == "/mnt/kd/keepalived"


def test_init_refuses_to_replace_a_real_etc_directory(box) -> None:
    box.run(["sh", "-c", "rm /etc/keepalived && mkdir /etc/keepalived && "
             "echo mine > /etc/keepalived/keepalived.conf"])
    box.write(KD_CONF, SEED_MASTER)
    proc = service(box, "init")
    assert proc.returncode == 1
    assert "/etc/keepalived is a real directory" in proc.stderr
    assert box.read("/etc/keepalived/keepalived.conf") == "mine\n"
    assert daemon_pids(box) == []


@pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived is not installed")
def test_keepalived_daemon_override_drives_keepalived_itself(box) -> None:
    # The script is keepalived's too: KEEPALIVED_DAEMON=/usr/sbin/keepalived (2.2.7 here).
    box.write("/etc/rc.conf", f'KEEPALIVED_DAEMON="{shutil.which("keepalived")}"\n')
    pid = up(box, processes=2)
    assert wait_for(lambda: box.holds(VIP), VIP_TIMEOUT)
    status = service(box, "status")
    assert (status.returncode, status.stdout) == (0, f"keepalived is running (pid {pid})\n")
    assert "no status table" in status.stderr
    reload = service(box, "reload")
    assert reload.returncode == 0, reload.stderr
    stop = service(box, "stop")
    assert (stop.returncode, stop.stdout) == (0, "Stopping keepalived...\n")
    assert daemon_pids(box) == []
    assert not box.holds(VIP)
