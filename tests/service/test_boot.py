"""AstLinux's boot and shutdown loops run the installed service in lab boxes.

The boxes boot from an image made by ``make install DESTDIR=`` (it survives reboots, as
AstLinux's read-only /etc and /usr/local do); the admin's config lives in /mnt/kd, the only
thing a reboot keeps besides the image. ``rc sysinit`` runs every /etc/runlevels/default/S*
with ``init`` and ``rc shutdown`` every K* with ``stop``, with boot's minimal PATH.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab import SEED_VIP, Lab, astlinux
from lab.astlinux import KD_CONF, daemon_pids, service

pytestmark = [pytest.mark.root]

REPO = Path(__file__).resolve().parents[2]
CONFS = {"master": (REPO / "etc/keepalived/keepalived.conf.master").read_text(),
         "backup": (REPO / "etc/keepalived/keepalived.conf.backup").read_text()}
# Master-down interval (3 s + skew) plus Python's start-up and polling.
TAKEOVER = 8.0

# A stand-in for AstLinux's S10iptables/K91iptables: it records when the loops reach it.
IPTABLES_INIT = """#!/bin/sh
echo "iptables $1" >> /var/state/rc-order
"""


@pytest.fixture(scope="module")
def boot_lab(_lab_session: None) -> Lab:
    _, image = astlinux.shared_build()
    with Lab() as lab:
        lab.add_box("master", "10.10.50.62/24", image=image)
        lab.add_box("backup", "10.10.50.65/24", image=image)
        lab.add_box("client", "10.10.50.10/24")
        yield lab


def power_on(lab: Lab, box) -> str:
    """Reboot ``box`` (everything but the image and /mnt/kd is lost) and run the boot loop."""
    lab.reboot(box)
    assert daemon_pids(box) == []
    box.write("/etc/init.d/iptables", IPTABLES_INIT, mode=0o755)
    box.run(["ln", "-s", "../../init.d/iptables", "/etc/runlevels/default/S10iptables"])
    box.run(["ln", "-s", "../../init.d/iptables", "/etc/runlevels/default/K91iptables"])
    proc = astlinux.boot(box)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_boot_and_shutdown_loops_drive_the_service(boot_lab: Lab) -> None:
    master, backup = boot_lab.box("master"), boot_lab.box("backup")
    for box in (master, backup):
        box.write(KD_CONF, CONFS[box.name], mode=0o644)

    for box in (master, backup):
        assert power_on(boot_lab, box) == "Starting keepalived...\n"
        assert box.read("/var/state/rc-order") == "iptables init\n"  # S10 before S12
        assert len(daemon_pids(box)) == 1
        assert box.exists("/etc/keepalived/keepalived.conf")
    boot_lab.wait_for_holders(SEED_VIP, ["master"], TAKEOVER)
    assert service(master, "status").returncode == 0

    # The master shuts down: K28keepalived stop, then K91iptables stop; the VIP is gone from
    # it by the time the loop returns, and the backup takes over.
    proc = astlinux.shutdown(master)
    assert (proc.returncode, proc.stdout) == (0, "Stopping keepalived...\n"), proc.stderr
    assert master.read("/var/state/rc-order") == "iptables init\niptables stop\n"
    assert daemon_pids(master) == []
    assert not master.holds(SEED_VIP)
    boot_lab.wait_for_holders(SEED_VIP, ["backup"], TAKEOVER)

    # Power back on (new mount namespace, same /mnt/kd): the boot loop brings it back up from
    # the persistent config alone, and the master takes its VIP back.
    boot_lab.reboot(master)
    assert not master.exists("/tmp/etc/keepalived")
    assert not master.exists("/var/run/keepalived.pid")
    assert power_on(boot_lab, master) == "Starting keepalived...\n"
    assert service(master, "status").returncode == 0
    boot_lab.wait_for_holders(SEED_VIP, ["master"], TAKEOVER)

    # A crash (no shutdown loop) leaves nothing behind that stops the next boot.
    assert power_on(boot_lab, master) == "Starting keepalived...\n"
    assert len(daemon_pids(master)) == 1
    boot_lab.wait_for_holders(SEED_VIP, ["master"], TAKEOVER)

    for box in (master, backup):
        proc = astlinux.shutdown(box)
        assert proc.returncode == 0, proc.stderr
        assert daemon_pids(box) == []
        assert not box.holds(SEED_VIP)


def test_boot_without_config_starts_nothing(boot_lab: Lab) -> None:
    box = boot_lab.box("backup")
    for path in box.kd_dir.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    assert power_on(boot_lab, box) == ""
    assert daemon_pids(box) == []
    assert service(box, "status").returncode == 3
    proc = astlinux.shutdown(box)
    assert (proc.returncode, proc.stdout) == (0, "")
