"""Running a VRRP daemon in a box the way AstLinux's ``service keepalived init`` would.

The config goes to /mnt/kd/keepalived/keepalived.conf, /tmp/etc/keepalived is linked to
/mnt/kd/keepalived (so /etc/keepalived/keepalived.conf resolves through the image's link),
/var/state/keepalived is created and ip_nonlocal_bind is set, exactly as the init script does;
then the daemon runs in the foreground, logging to the console (captured in the box's log dir).
"""

from __future__ import annotations

import enum
import re
import sys
import time

from .box import Box, Spawned

CONF_DIR = "/mnt/kd/keepalived"
CONF = "/etc/keepalived/keepalived.conf"


class Daemon(enum.Enum):
    """Which VRRP daemon a box runs."""

    KEEPALIVED = "keepalived"
    ASTLINUX_HA = "astlinux-ha"

    def argv(self) -> list[str]:
        """The foreground command line, with explicit pid files under /var/run."""
        if self is Daemon.KEEPALIVED:
            # -G: a box has no syslogd, and /dev/log would be the host's.
            return ["keepalived", "-n", "-l", "-G", "-D", "-f", CONF,
                    "-p", "/var/run/keepalived.pid", "-r", "/var/run/vrrp.pid"]
        # -D as keepalived gets it: the same detail lines (setting/removing VIPs, sent 0
        # priority) in both daemons' logs.
        return [sys.executable, "-m", "astlinux_ha", "-n", "-l", "-D", "-f", CONF]


def install_config(box: Box, conf_text: str) -> None:
    """Put ``conf_text`` where an AstLinux admin would, and do what ``init`` does before start."""
    box.write(f"{CONF_DIR}/keepalived.conf", conf_text, mode=0o644)
    box.run(["sh", "-c", f"ln -snf {CONF_DIR} /tmp/etc/keepalived && "
             "mkdir -p /var/state/keepalived && sysctl -qw net.ipv4.ip_nonlocal_bind=1"])


def start(box: Box, daemon: Daemon) -> Spawned:
    """Start ``daemon`` in ``box`` on the installed config."""
    return box.spawn(daemon.argv(), name=daemon.value)


# The line both daemons log once an instance has a state (keepalived adds " (init)").
_READY = re.compile(r"\(\S+\) Entering (BACKUP|MASTER|FAULT) STATE")


def wait_ready(proc: Spawned, timeout: float) -> bool:
    """Wait until ``proc`` logged an instance entering a state; False if it exited or the
    time ran out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _READY.search(proc.log_text()):
            return True
        if not proc.alive():
            return False
        time.sleep(0.01)
    return False


def with_priority(conf_text: str, priority: int) -> str:
    """``conf_text`` with every ``priority N`` line changed to ``priority`` (the seed's edit)."""
    changed, count = re.subn(r"(?m)^(\s*priority\s+)\d+", rf"\g<1>{priority}", conf_text)
    if count == 0:
        raise ValueError("config has no 'priority' line to change")
    return changed


def without_unicast(conf_text: str) -> str:
    """The same config in multicast: ``unicast_src_ip`` lines and ``unicast_peer`` blocks gone."""
    text = re.sub(r"(?ms)^\s*unicast_peer\s*\{.*?\}\s*\n", "", conf_text)
    return re.sub(r"(?m)^\s*unicast_src_ip\s+\S+\s*\n", "", text)


def with_advert(conf_text: str, *lines: str) -> str:
    """``conf_text`` with its single ``advert_int 1`` line replaced by ``lines`` (at the same
    indent): how tests make the seed config fast (``advert_int 0.1``, ``version 3``, ...)."""
    def repl(match: re.Match[str]) -> str:
        return "\n".join(match.group(1) + line for line in lines)

    changed, count = re.subn(r"(?m)^(\s*)advert_int 1\s*$", repl, conf_text)
    if count != 1:
        raise ValueError(f"config has {count} 'advert_int 1' lines, not one")
    return changed
