"""Daemonized mode (no -n), as the init script starts it: the pid file, refusing a second
start, replacing a stale pid file, and SIGTERM cleaning up after a detached daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from test_daemon_signals import VIP, conf

from lab import Box, daemons
from lab.box import wait_until

pytestmark = [pytest.mark.root]

PID_FILE = "/var/run/keepalived.pid"
START = [sys.executable, "-m", "astlinux_ha", "-f", daemons.CONF]


def pid_in_file(box: Box) -> int | None:
    if not box.exists(PID_FILE):
        return None
    text = box.read(PID_FILE).strip()
    return int(text) if text.isdigit() else None


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def start_detached(box: Box) -> tuple[int, int]:
    """Run the daemon without -n; returns (launcher's exit code, the detached daemon's pid)."""
    launcher = box.run(START, check=False, timeout=30)
    assert launcher.returncode == 0, launcher.stderr
    assert wait_until(lambda: pid_in_file(box) is not None and alive(pid_in_file(box)), 10)
    pid = pid_in_file(box)
    assert pid is not None
    return launcher.returncode, pid


def terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    assert wait_until(lambda: not alive(pid), 5)


def test_daemonized_start_pid_file_second_start_and_stale_file(seed_lab):
    master = seed_lab.box("master")
    daemons.install_config(master, conf("master"))
    pids: list[int] = []
    try:
        _, pid = start_detached(master)
        pids.append(pid)
        proc = psutil.Process(pid)
        # The pid file names the detached process itself, not the launcher that exited.
        assert "astlinux_ha" in " ".join(proc.cmdline())
        assert proc.ppid() != os.getpid()
        seed_lab.wait_for_holders(VIP, ["master"], 10)

        second = master.run(START, check=False, timeout=30)
        assert second.returncode != 0
        assert f"already running with pid {pid}" in second.stderr
        assert pid_in_file(master) == pid and alive(pid)

        started = time.monotonic()
        terminate(pid)
        assert time.monotonic() - started < 2.0
        assert not master.exists(PID_FILE)
        assert seed_lab.holders(VIP) == []

        # A pid file left by a crash, naming a process that is gone, is replaced.
        gone = subprocess.Popen(["true"])
        gone.wait()
        master.write(PID_FILE, f"{gone.pid}\n")
        _, pid = start_detached(master)
        pids.append(pid)
        assert pid != gone.pid
        seed_lab.wait_for_holders(VIP, ["master"], 10)
    finally:
        for pid in pids:
            terminate(pid)
