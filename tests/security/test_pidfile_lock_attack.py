"""A local user locking the pid file, in a box with the real daemon and init script, as root.

The review's attack on the old flock-based pid file: /var/run/keepalived.pid is 0644, an flock
needs only a read-only descriptor, so any user holding LOCK_SH or LOCK_EX on a stale file made
every start refuse ("daemon already running"). The user gets such a file by waiting in
flock(LOCK_EX) on the running daemon's file until the daemon is killed with -9. The daemon now
holds an open-file-description write lock, which only a descriptor open for writing can take:
a user's flock means nothing to it, and a user's read lock (OFD or POSIX, all a read-only
descriptor allows) is told apart from a daemon's write lock and left on the replaced file.

Each test has user nobody (uid 65534, by setpriv, no capabilities) hold or wait for a lock on
the pid file, then starts the daemon by hand (its own check() and acquire() judge the file,
the init script's stale-file removal does not step in first) and through the init script.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from lab_plugin import fresh_box

from lab import Lab
from lab.astlinux import INSTALLED_DAEMON as DAEMON
from lab.astlinux import KD_CONF, PIDFILE, SEED_MASTER, daemon_pids, service
from lab.box import wait_until

pytestmark = [pytest.mark.root]

CONF = "/etc/keepalived/keepalived.conf"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
MARKER = "/tmp/nobody-holds-the-lock"
# Run by the box's python3 as nobody: open the pid file read-only (all a user can), wait for
# the lock ``how``, then say so in MARKER and keep it.
HOLD = r"""
import fcntl, os, struct, sys, time
path, how, marker = sys.argv[1:4]
fd = os.open(path, os.O_RDONLY)
if how == "flock-sh":
    fcntl.flock(fd, fcntl.LOCK_SH)
elif how == "flock-ex":
    fcntl.flock(fd, fcntl.LOCK_EX)
elif how == "ofd-read":
    rd = struct.pack("@hhqqi0q", fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0)
    fcntl.fcntl(fd, getattr(fcntl, "F_OFD_SETLKW", 38), rd)
elif how == "posix-read":
    fcntl.lockf(fd, fcntl.LOCK_SH)
open(marker, "w").close()
time.sleep(600)
"""
LOCKS = ["flock-sh", "flock-ex", "ofd-read", "posix-read"]


@pytest.fixture
def box(image_lab: Lab):
    """The box freshly rebooted with the seed's master config in /mnt/kd."""
    the_box = fresh_box(image_lab)
    the_box.write(KD_CONF, SEED_MASTER, mode=0o644)
    yield the_box
    image_lab.reboot(the_box)  # nobody's holder dies here


def read_pid(box) -> int:
    return int(box.read(PIDFILE).strip())


def started_by_init(box) -> int:
    init = service(box, "init")
    assert (init.returncode, init.stdout) == (0, "Starting keepalived...\n"), init.stderr
    assert wait_until(lambda: daemon_pids(box) == [read_pid(box)], 10)
    return read_pid(box)


def killed_uncleanly(box, pid: int) -> None:
    """kill -9: the daemon's pid file stays, naming a pid that is gone."""
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: daemon_pids(box) == [], 10)
    assert read_pid(box) == pid


def nobody_holds(box, how: str):
    return box.spawn([*NOBODY, "python3", "-c", HOLD, PIDFILE, how, MARKER], name="nobody")


def starts_by_hand_despite(box, holder, stale: int) -> None:
    """The daemon, started by hand on the locked stale file, runs: not refused, and its pid
    file is its own; then the init script sees it and stops it."""
    assert box.exists(MARKER) and holder.alive()
    proc = box.run([DAEMON, "-f", CONF], check=False, timeout=30)
    assert proc.returncode == 0, proc.stderr  # check() before detaching: no "already running"
    assert wait_until(lambda: box.exists(PIDFILE) and read_pid(box) != stale, 10)
    pid = read_pid(box)
    time.sleep(0.5)  # acquire() after detaching: a refusal there exits at once
    assert daemon_pids(box) == [pid]
    status = service(box, "status")
    assert status.stdout.startswith(f"keepalived is running (pid {pid})\n"), status
    assert service(box, "stop").stdout == "Stopping keepalived...\n"
    assert daemon_pids(box) == []
    assert holder.alive()  # the user's lock stayed on the old, replaced file


@pytest.mark.parametrize("how", LOCKS)
def test_a_users_lock_on_the_stale_file_of_a_killed_daemon_does_not_block_a_start(box, how):
    stale = started_by_init(box)
    killed_uncleanly(box, stale)
    holder = nobody_holds(box, how)
    assert wait_until(lambda: box.exists(MARKER), 10), holder.log_path.read_text()
    starts_by_hand_despite(box, holder, stale)
    assert started_by_init(box) > 0
    assert service(box, "stop").returncode == 0


@pytest.mark.parametrize("how", LOCKS)
def test_a_user_waiting_on_the_running_daemons_file_gains_nothing(box, how):
    pid = started_by_init(box)
    holder = nobody_holds(box, how)
    if how in ("ofd-read", "posix-read"):
        # The daemon's write lock keeps a user's read lock out for the daemon's whole life.
        time.sleep(1.0)
        assert not box.exists(MARKER) and holder.alive()
    else:
        # An flock is no longer ours: the user gets it, and it means nothing.
        assert wait_until(lambda: box.exists(MARKER), 10), holder.log_path.read_text()
    status = service(box, "status")
    assert status.stdout.startswith(f"keepalived is running (pid {pid})\n"), status
    killed_uncleanly(box, pid)
    assert wait_until(lambda: box.exists(MARKER), 10), holder.log_path.read_text()
    starts_by_hand_despite(box, holder, pid)
