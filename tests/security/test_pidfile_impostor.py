"""Attacks on the pid file: an impostor's pid in it, and symlinks planted where it is written.

The audit's case: /var/run/keepalived.pid, left by a daemon killed with -9, names a pid that
now belongs to a root ``vi /etc/keepalived/keepalived.conf``. A check that looks for
"keepalived" anywhere in the command line makes ``service keepalived stop`` SIGTERM the editor
and makes start refuse ("already running"). Here the impostors are root processes whose
command line contains keepalived (or astlinux_ha) but which are not daemons: stop, status and
init must leave them alone and start the daemon anyway, under dash and busybox ash, and the
daemon started by hand must not refuse either.

Symlinks: a root daemon writing its pid file must follow no link planted at the pid file's
path, nor at any temporary name it writes first (the old code's ``.keepalived.pid.PID`` was
predictable from the next pid).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lab_plugin import fresh_box

from lab import Lab
from lab.astlinux import INSTALLED_DAEMON as DAEMON
from lab.astlinux import KD_CONF, PIDFILE, SEED_MASTER, daemon_pids, service
from lab.box import wait_until

pytestmark = [pytest.mark.root]

CONF = "/etc/keepalived/keepalived.conf"
SHELLS = ["dash", "ash"]
SLEEP = "import time; time.sleep(600)"
IMPOSTORS = {
    # An editor on the config: argv[0] with a space, as `exec -a` sets it.
    "vi-on-the-config": ["bash", "-c", 'exec -a "vi /etc/keepalived/keepalived.conf" sleep 600'],
    # A root Python tool given the config as an argument.
    "python-with-the-config": ["python3", "-c", SLEEP, CONF],
    # The daemon's own module name, but as arguments of some other script.
    "python-naming-the-module": ["python3", "-c", SLEEP, "-m", "astlinux_ha"],
    # argv[0] says keepalived; the kernel's /proc/PID/exe says sleep.
    "renamed-sleep": ["bash", "-c", "exec -a keepalived sleep 600"],
}


@pytest.fixture
def box(image_lab: Lab):
    """The box freshly rebooted with the seed's master config in /mnt/kd."""
    the_box = fresh_box(image_lab)
    the_box.write(KD_CONF, SEED_MASTER, mode=0o644)
    yield the_box
    image_lab.reboot(the_box)


def impostor(box, kind: str):
    """A root process of ``kind`` in the box, once its command line is in /proc."""
    proc = box.spawn(IMPOSTORS[kind], name="impostor")
    word = b"astlinux_ha" if kind == "python-naming-the-module" else b"keepalived"
    assert wait_until(lambda: word in Path(f"/proc/{proc.pid}/cmdline").read_bytes(), 10)
    return proc


def daemons_but(box, imp) -> list[int]:
    """The lab's daemon_pids() goes by names, so it counts some impostors too: left out."""
    return [pid for pid in daemon_pids(box) if pid != imp.pid]


def read_pid(box) -> int:
    return int(box.read(PIDFILE).strip())


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("kind", sorted(IMPOSTORS))
def test_service_never_signals_an_impostor_and_starts_anyway(box, shell, kind) -> None:
    imp = impostor(box, kind)
    box.write(PIDFILE, f"{imp.pid}\n")
    stop = service(box, "stop", shell=shell)
    assert (stop.returncode, stop.stdout) == (0, ""), stop.stderr
    assert imp.alive(), "stop signalled the impostor"

    box.write(PIDFILE, f"{imp.pid}\n")
    status = service(box, "status", shell=shell)
    assert (status.returncode, status.stdout) == (3, "keepalived is stopped\n")
    assert imp.alive()

    box.write(PIDFILE, f"{imp.pid}\n")
    init = service(box, "init", shell=shell)
    assert (init.returncode, init.stdout) == (0, "Starting keepalived...\n"), init.stderr
    pids = daemons_but(box, imp)
    assert len(pids) == 1 and read_pid(box) == pids[0]
    assert service(box, "stop", shell=shell).stdout == "Stopping keepalived...\n"
    assert daemons_but(box, imp) == []
    assert imp.alive()


@pytest.mark.parametrize("kind", ["vi-on-the-config", "python-with-the-config"])
def test_daemon_started_by_hand_is_not_stopped_by_an_impostors_pid(box, kind) -> None:
    # init once for the link and state dir, then stopped: the daemon itself judges the file.
    assert service(box, "init").returncode == 0
    assert service(box, "stop").returncode == 0
    imp = impostor(box, kind)
    box.write(PIDFILE, f"{imp.pid}\n")
    proc = box.run([DAEMON, "-f", CONF], check=False, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert wait_until(lambda: box.exists(PIDFILE) and read_pid(box) != imp.pid, 10)
    assert daemons_but(box, imp) == [read_pid(box)]
    assert service(box, "stop").returncode == 0
    assert imp.alive()


# Run in the box by its own python: reads the last pid handed out and plants, for each of the
# next COUNT pids, a symlink at the name the old code wrote first (.keepalived.pid.PID), all
# pointing at a root-only file, plus one at the pid file itself.
PLANT = r"""
import os, sys
victim, run, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
last = int(open("/proc/sys/kernel/ns_last_pid").read())
os.symlink(victim, os.path.join(run, "keepalived.pid"))
for pid in range(last + 1, last + 1 + count):
    os.symlink(victim, os.path.join(run, f".keepalived.pid.{pid}"))
"""


def test_symlinks_at_the_pid_file_and_at_temporary_names_are_not_followed(box) -> None:
    assert service(box, "init").returncode == 0
    assert service(box, "stop").returncode == 0
    box.write("/etc/victim", "precious\n", mode=0o600)
    run = box.run(["readlink", "-f", "/var/run"]).stdout.strip()
    box.run(["python3", "-c", PLANT, "/etc/victim", run, "5000"])
    proc = box.run([DAEMON, "-f", CONF], check=False, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert wait_until(lambda: box.run(["test", "-f", PIDFILE], check=False).returncode == 0
                      and box.read(PIDFILE).strip().isdigit(), 10)
    time.sleep(0.5)
    assert box.read("/etc/victim") == "precious\n"
    assert box.run(["stat", "-c", "%a", "/etc/victim"]).stdout.strip() == "600"
    # The pid file is a regular file of its own, 0644, naming the daemon.
    kind = box.run(["stat", "-c", "%F %a", PIDFILE]).stdout.strip()
    assert kind == "regular file 644"
    assert box.run(["test", "-L", PIDFILE], check=False).returncode != 0
    assert daemon_pids(box) == [read_pid(box)]
    # No temporary file of the daemon's left next to it.
    left = box.run(["find", run, "-maxdepth", "1", "-name", ".keepalived.pid.*",
                    "!", "-type", "l"]).stdout
    assert left == ""
    assert service(box, "stop").returncode == 0
