"""``make install`` / ``make uninstall`` inside a lab box (its overlays; never the host)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lab import Lab, astlinux
from lab.astlinux import daemon_pids, service

pytestmark = [pytest.mark.root]

REPO = Path(__file__).resolve().parents[2]
INSTALLED = ["/usr/local/lib/astlinux-ha/bin/python", "/usr/local/sbin/astlinux-ha",
             "/etc/init.d/keepalived", "/etc/runlevels/default/S12keepalived",
             "/etc/runlevels/default/K28keepalived"]
HOST_PATHS = ["/usr/local/lib/astlinux-ha", "/usr/local/sbin/astlinux-ha", "/etc/init.d/keepalived",
              "/etc/runlevels", "/etc/keepalived"]


def host_snapshot() -> dict[str, str | None]:
    snap: dict[str, str | None] = {}
    for path in HOST_PATHS:
        p = Path(path)
        if p.is_symlink():
            snap[path] = "-> " + os.readlink(p)
        elif p.is_file():
            snap[path] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            snap[path] = "dir" if p.is_dir() else None
    return snap


def make(box, target: str, wheels: Path) -> None:
    proc = box.run(["make", "-s", "-C", str(REPO), target, "PYTHON=/usr/bin/python3",
                    f"WHEELHOUSE={wheels}"], check=False, timeout=120,
                   env={"PIP_NO_CACHE_DIR": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_install_then_uninstall_in_a_box(lab: Lab) -> None:
    wheels, _ = astlinux.shared_build()
    before = host_snapshot()
    box = lab.add_box("ha", "10.10.50.62/24")
    astlinux.install_in_box(box, wheels)
    for path in INSTALLED:
        assert box.exists(path), path
    assert box.read("/etc/init.d/keepalived") == (REPO / "init.d/keepalived").read_text()
    for link in ("S12keepalived", "K28keepalived"):
        target = box.run(["readlink", f"/etc/runlevels/default/{link}"]).stdout.strip()
        assert target == "../../init.d/keepalived"
    # The box is an AstLinux image: its /etc/keepalived link was there before and stays.
    assert box.run(["readlink", "/etc/keepalived"]).stdout.strip() == "/tmp/etc/keepalived"
    check = box.run(["/usr/local/sbin/astlinux-ha", "-t", "-f",
                     str(REPO / "etc/keepalived/keepalived.conf.master")], check=False)
    assert check.returncode == 0, check.stderr
    # A package planted in the working directory root starts the daemon from (`python -m`
    # puts it first on the module path unless told not to) is never imported.
    box.write("/tmp/astlinux_ha/__init__.py", "")
    box.write("/tmp/astlinux_ha/__main__.py", "open('/tmp/pwned', 'w').write('root')\n")
    planted = box.run(["sh", "-c", "cd /tmp && /usr/local/sbin/astlinux-ha -t -f "
                       f"{REPO / 'etc/keepalived/keepalived.conf.master'}"], check=False)
    assert planted.returncode == 0, planted.stderr
    assert not box.exists("/tmp/pwned")

    box.write("/mnt/kd/keepalived/keepalived.conf",
              (REPO / "etc/keepalived/keepalived.conf.master").read_text())
    assert service(box, "init").returncode == 0
    assert len(daemon_pids(box)) == 1
    assert service(box, "stop").returncode == 0

    make(box, "uninstall", wheels)
    for path in INSTALLED:
        assert not box.exists(path), path
    assert box.run(["readlink", "/etc/keepalived"]).stdout.strip() == "/tmp/etc/keepalived"
    assert host_snapshot() == before


def test_install_adds_the_image_link_only_when_absent_and_uninstall_removes_it(lab: Lab) -> None:
    wheels, _ = astlinux.shared_build()
    box = lab.add_box("ha", "10.10.50.62/24")
    box.run(["rm", "/etc/keepalived"])
    make(box, "install", wheels)
    assert box.run(["readlink", "/etc/keepalived"]).stdout.strip() == "/tmp/etc/keepalived"
    make(box, "uninstall", wheels)
    assert box.run(["test", "-L", "/etc/keepalived"], check=False).returncode != 0
