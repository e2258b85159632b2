"""The AstLinux side of a box: the installed service, ``service``, and the boot/shutdown loops.

A box gets our service in one of two ways, both through ``make install`` (never into the host):

- :func:`install_in_box` runs ``make install WHEELHOUSE=...`` inside the box, into its writable
  overlays (thrown away on reboot), as an admin would on a box without network;
- :func:`build_image` runs ``make install DESTDIR=IMAGE`` into a lab directory, and boxes made
  with ``lab.add_box(..., image=IMAGE)`` see it under /etc and /usr/local like AstLinux's
  read-only image: it survives ``lab.reboot(box)``, so boot tests reboot into it. One image
  serves every box of a test module.

Either way the box also gets AstLinux's ``service`` helper (``service NAME VERB`` runs
``/etc/runlevels/default/S??NAME VERB``) and ``/etc/rc``-style boot and shutdown loops, as
:data:`SERVICE_SH` and :data:`RC_SH` below (from AstLinux's target_skeleton, trimmed to what
concerns services). A wheelhouse comes from ``make wheels`` (or :func:`build_wheelhouse`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import registry
from ._host import LabError
from .box import Box

REPO = Path(__file__).resolve().parents[1]
# The box's Python: the system one, as on a box that has only what its image ships.
BOX_PYTHON = "/usr/bin/python3"
SERVICE_PATH = "/usr/local/sbin/service"
RC_PATH = "/usr/local/sbin/rc"
# /etc/rc's PATH at boot: no /usr/local, so the init script must find the daemon by itself.
BOOT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX_DIR = "/tmp/busybox"
# AstLinux's paths, as the init script and the web interface use them.
KD_CONF = "/mnt/kd/keepalived/keepalived.conf"
PIDFILE = "/var/run/keepalived.pid"
# Where `make install` puts the launcher (boot's PATH has no /usr/local: the init script names it).
INSTALLED_DAEMON = "/usr/local/sbin/astlinux-ha"
# The guide's master config, as the tests install it.
SEED_MASTER = (REPO / "etc/keepalived/keepalived.conf.master").read_text()

# AstLinux's /usr/sbin/service: the name resolves through the default runlevel's S link.
SERVICE_SH = r"""#!/bin/sh
# service NAME VERB: AstLinux's helper (target_skeleton/usr/sbin/service), as the lab installs it.
if [ -z "$1" ] || [ -z "$2" ]; then
  echo "Usage: service service_name init|start|restart|stop" >&2
  exit 1
fi
SERVICE="$(ls /etc/runlevels/default/S* 2>/dev/null | grep "S[0-9][0-9]$1$")"
if [ -z "$SERVICE" ]; then
  echo "service: \"$1\" is not a valid service name" >&2
  exit 2
fi
if [ ! -x "$SERVICE" ]; then
  echo "service: \"$1\" is not installed" >&2
  exit 3
fi
$SERVICE "$2"
"""

# /etc/rc's service loops: every S* script gets `init` at boot (ls order), every K* `stop`.
RC_SH = r"""#!/bin/sh
# rc sysinit|shutdown: the service loops of AstLinux's /etc/rc, as the lab installs them.
PATH=""" + BOOT_PATH + r"""
export PATH
ASTRLEVEL=default
[ -f /etc/rc.conf ] && . /etc/rc.conf
case $1 in
sysinit)
  mkdir -p /tmp/etc /var/state /var/run
  SCRIPTS="$(ls /etc/runlevels/$ASTRLEVEL/S* 2>/dev/null)"
  for i in $SCRIPTS; do
    if [ -x "$i" ]; then
      "$i" init
    fi
  done
  ;;
shutdown)
  SCRIPTS="$(ls /etc/runlevels/$ASTRLEVEL/K* 2>/dev/null)"
  for i in $SCRIPTS; do
    if [ -x "$i" ]; then
      "$i" stop
    fi
  done
  ;;
*)
  echo "Usage: rc sysinit|shutdown" >&2
  exit 1
  ;;
esac
"""


def build_wheelhouse(dest: Path) -> Path:
    """``make wheels``' command into ``dest``: the package and its dependencies as wheels."""
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(dest), str(REPO)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LabError(f"building the wheelhouse failed: {proc.stderr.strip()}")
    return dest


def _make_install(cwd: Path, extra: list[str], runner) -> None:
    args = ["make", "-s", "-C", str(cwd), "install", f"PYTHON={BOX_PYTHON}", *extra]
    proc = runner(args)
    if proc.returncode != 0:
        raise LabError(f"make install failed ({proc.returncode}): "
                       f"{(proc.stdout + proc.stderr).strip()[-2000:]}")


def build_image(image: Path, wheelhouse: Path) -> Path:
    """``make install DESTDIR=image WHEELHOUSE=wheelhouse`` plus ``service`` and ``rc``."""
    image.mkdir(parents=True, exist_ok=True)
    _make_install(REPO, [f"DESTDIR={image}", f"WHEELHOUSE={wheelhouse}"],
                  lambda argv: subprocess.run(argv, capture_output=True, text=True, check=False,
                                              env={**os.environ, "PIP_NO_CACHE_DIR": "1"}))
    for path, text in ((SERVICE_PATH, SERVICE_SH), (RC_PATH, RC_SH)):
        target = image / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o755)
    return image


_SHARED: dict[str, Path] = {}


def shared_build() -> tuple[Path, Path]:
    """One wheelhouse and one image per process (test modules share them): ``(wheelhouse,
    image)`` in a lab-named host directory, removed at exit, or by ``sweep()`` after a crash."""
    if "image" not in _SHARED:
        name = registry.new_name()
        where = registry.base_dir() / name
        where.mkdir(parents=True)
        registry.LabRecord.for_current_process(name, False).save(where)
        atexit.register(shutil.rmtree, where, True)
        _SHARED["wheels"] = build_wheelhouse(where / "wheels")
        _SHARED["image"] = build_image(where / "image", _SHARED["wheels"])
    return _SHARED["wheels"], _SHARED["image"]


def install_helpers(box: Box) -> None:
    """``service`` and ``rc`` into the box's overlays."""
    box.write(SERVICE_PATH, SERVICE_SH, mode=0o755)
    box.write(RC_PATH, RC_SH, mode=0o755)


def install_in_box(box: Box, wheelhouse: Path, timeout: float = 120.0) -> None:
    """``make install WHEELHOUSE=...`` run inside ``box`` (its overlays), then the helpers."""
    _make_install(REPO, [f"WHEELHOUSE={wheelhouse}"],
                  lambda argv: box.run(argv, check=False, timeout=timeout,
                                       env={"PIP_NO_CACHE_DIR": "1"}))
    install_helpers(box)


def service(box: Box, verb: str, *, name: str = "keepalived", shell: str | None = None,
            env: dict[str, str] | None = None,
            timeout: float = 40.0) -> subprocess.CompletedProcess[str]:
    """``service NAME VERB`` in ``box``; ``shell`` ("dash" or "ash") runs the init script
    directly under that shell instead (ash with busybox's applets first on PATH)."""
    if shell is None:
        argv = [SERVICE_PATH, name, verb]
    elif shell == "dash":
        argv = ["dash", f"/etc/init.d/{name}", verb]
    elif shell == "ash":
        ensure_busybox(box)
        argv = ["busybox", "ash", f"/etc/init.d/{name}", verb]
        env = {"PATH": f"{BUSYBOX_DIR}:{BOOT_PATH}", **(env or {})}
    else:
        raise ValueError(f"shell {shell!r}: dash or ash")
    return box.run(argv, check=False, timeout=timeout, env=env)


def ensure_busybox(box: Box) -> None:
    """A directory of busybox applet links in the box (/tmp: gone at reboot), so ash runs
    the script with busybox's ln, grep, kill, sysctl... as on AstLinux."""
    busybox = shutil.which("busybox")
    if busybox is None:
        raise LabError("busybox is not installed (make deps)")
    box.run(["sh", "-c", f"[ -d {BUSYBOX_DIR} ] || {{ mkdir -p {BUSYBOX_DIR} && "
             f"{busybox} --install -s {BUSYBOX_DIR}; }}"])


def boot(box: Box, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """The boot loop (``rc sysinit``) with boot's minimal environment."""
    return box.run(["env", "-i", f"PATH={BOOT_PATH}", RC_PATH, "sysinit"], check=False,
                   timeout=timeout)


def shutdown(box: Box, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """The shutdown loop (``rc shutdown``) with boot's minimal environment."""
    return box.run(["env", "-i", f"PATH={BOOT_PATH}", RC_PATH, "shutdown"], check=False,
                   timeout=timeout)


def daemon_pids(box: Box) -> list[int]:
    """Pids of VRRP daemons (ours or keepalived) running in the box's network namespace."""
    proc = subprocess.run(["ip", "netns", "pids", box.netns], capture_output=True, text=True,
                          check=False)
    found = []
    for word in proc.stdout.split():
        try:
            with open(f"/proc/{word}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if b"astlinux_ha" in argv or any(a.endswith(b"keepalived") for a in argv[:1]):
            # Not our own `make`/`-t` children: a daemon has no -t and no --status.
            if b"-t" not in argv and b"--status" not in argv:
                found.append(int(word))
    return sorted(found)
