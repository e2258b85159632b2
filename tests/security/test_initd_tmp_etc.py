"""Attack on ``service keepalived init`` through a /tmp/etc that a user made first.

On AstLinux /etc/keepalived is a link to /tmp/etc/keepalived, and /tmp is world-writable. If an
unprivileged user creates /tmp/etc before root does (or it is a symlink, or writable by
others), that user decides where /tmp/etc/keepalived points at any moment: root's ``ln -snf``
is undone a few milliseconds later, and the daemon, started as root, reads the user's
keepalived.conf and runs its notify_master script as root. init must refuse such a directory
with one line on stderr, exit non-zero and start nothing; the user's script must never run.

Each test runs in a lab box booted from ``make install DESTDIR=IMAGE`` (its own /etc, so
``useradd`` there touches only the box), under dash and busybox ash.
"""

from __future__ import annotations

import time

import pytest
from lab_plugin import fresh_box

from lab import Lab
from lab.astlinux import KD_CONF, SEED_MASTER, daemon_pids, service

pytestmark = [pytest.mark.root]

EVIL = "/tmp/evil"
PWNED = "/var/state/pwned"  # root's: only a script running as root can write it
# The user's config: the seed's, script security and all, plus a notify_master that passes
# every check (root's /bin/sh, root's directories) and writes as whoever runs it.
EVIL_CONF = SEED_MASTER.replace(
    "    advert_int 1\n",
    f"    advert_int 1\n    notify_master \"/bin/sh -c 'id -u > {PWNED}'\"\n")
# A lone master runs notify_master after the master-down interval (3 x 1 s + skew).
NOTIFY_WAIT = 6.0
SHELLS = ["dash", "ash"]


@pytest.fixture
def box(image_lab: Lab):
    """The box freshly rebooted, the admin's real config in /mnt/kd, a user ``evil`` with
    a directory holding their own config."""
    the_box = fresh_box(image_lab)
    the_box.write(KD_CONF, SEED_MASTER, mode=0o644)
    the_box.run(["useradd", "-M", "-U", "-d", EVIL, "-s", "/bin/sh", "evil"])
    as_evil(the_box, f"mkdir -m 0755 {EVIL} {EVIL}/kd && cat > {EVIL}/kd/keepalived.conf",
            input=EVIL_CONF)
    yield the_box
    image_lab.reboot(the_box)  # the user's loop and whatever started die here


def as_evil(box, script: str, input: str | None = None):
    return box.run(["setpriv", "--reuid=evil", "--regid=evil", "--clear-groups", "--",
                    "sh", "-c", script], input=input)


def keep_pointing(box, link_dir: str) -> None:
    """The user's loop: re-point ``link_dir``/keepalived at their directory every 10 ms
    (rename over whatever root put there; they own the directory)."""
    script = (f"while :; do ln -snf {EVIL}/kd {link_dir}/.k && mv -T {link_dir}/.k "
              f"{link_dir}/keepalived; sleep 0.01; done")
    box.spawn(["setpriv", "--reuid=evil", "--regid=evil", "--clear-groups", "--",
               "sh", "-c", script], name="evil-loop")
    time.sleep(0.2)


def refused(box, shell: str, why: str) -> None:
    proc = service(box, "init", shell=shell)
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    assert "Starting" not in proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("keepalived: /tmp/etc "), proc.stderr
    assert why in lines[0], proc.stderr
    assert daemon_pids(box) == []
    assert not box.exists("/var/run/keepalived.pid")
    time.sleep(NOTIFY_WAIT)
    assert not box.exists(PWNED), f"the user's notify script ran as uid {box.read(PWNED)}"
    assert daemon_pids(box) == []


@pytest.mark.parametrize("shell", SHELLS)
def test_tmp_etc_made_by_a_user_is_refused(box, shell) -> None:
    box.run(["rm", "-rf", "/tmp/etc"])
    as_evil(box, f"mkdir -m 0755 /tmp/etc && ln -s {EVIL}/kd /tmp/etc/keepalived")
    keep_pointing(box, "/tmp/etc")
    refused(box, shell, "not root")


@pytest.mark.parametrize("shell", SHELLS)
def test_tmp_etc_as_a_users_symlink_is_refused(box, shell) -> None:
    box.run(["rm", "-rf", "/tmp/etc"])
    as_evil(box, f"mkdir -m 0755 {EVIL}/etc && ln -s {EVIL}/kd {EVIL}/etc/keepalived && "
                 f"ln -s {EVIL}/etc /tmp/etc")
    keep_pointing(box, f"{EVIL}/etc")
    refused(box, shell, "symlink")


def test_root_owned_but_world_writable_tmp_etc_is_refused(box) -> None:
    box.run(["chmod", "0777", "/tmp/etc"])
    as_evil(box, f"ln -s {EVIL}/kd /tmp/etc/keepalived")
    keep_pointing(box, "/tmp/etc")
    refused(box, "dash", "writable by others")


def test_group_writable_tmp_etc_is_refused(box) -> None:
    box.run(["chgrp", "evil", "/tmp/etc"])
    box.run(["chmod", "0775", "/tmp/etc"])
    refused(box, "ash", "writable by others")


@pytest.mark.parametrize("shell", SHELLS)
def test_missing_tmp_etc_is_made_0755_root_and_init_works(box, shell) -> None:
    box.run(["rm", "-rf", "/tmp/etc"])
    proc = service(box, "init", shell=shell)
    assert (proc.returncode, proc.stdout) == (0, "Starting keepalived...\n"), proc.stderr
    assert box.run(["stat", "-c", "%u %a %F", "/tmp/etc"]).stdout.split(None, 2) == [
        "0", "755", "directory\n"]
    assert box.run(["readlink", "/tmp/etc/keepalived"]).stdout.strip() == "/mnt/kd/keepalived"
    assert len(daemon_pids(box)) == 1
    assert service(box, "stop", shell=shell).returncode == 0
