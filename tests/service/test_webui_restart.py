"""AstLinux's web interface, "Restart Keepalived" and its Running/Stopped line, in a box.

The Network and Edit tabs run `restartPROCESS('keepalived', ..., 'init')`:

    cd /root; service keepalived stop; sleep 1; /usr/sbin/gen-rc-conf; service keepalived init

each step's output to /dev/null, success being the shell's status 0; `statusPROCESS` then shows
"has Restarted and is Running" iff /var/run/keepalived.pid exists, else "is Stopped". It runs
here with boot's minimal environment (the web server's is no richer), `service` and a stand-in
gen-rc-conf at their AstLinux paths in /usr/sbin (laid over the box's /usr/sbin, as the lab lays
the image over /etc), and /etc/rc.conf a link to the generated /tmp/etc/rc.conf as on AstLinux.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lab import Lab, astlinux
from lab.astlinux import BOOT_PATH, KD_CONF, PIDFILE, daemon_pids, service
from lab.box import Box

pytestmark = [pytest.mark.root]

REPO = Path(__file__).resolve().parents[2]
USER_CONF = "/mnt/kd/rc.conf.d/user.conf"
# AstLinux keeps the system defaults in /stat/etc/rc.conf; a box's / is the host's, so the
# stand-in reads them from the box's (writable, image-like) /usr/local instead.
STAT_RC = "/usr/local/stat/etc/rc.conf"
WEBUI_RESTART = ("cd /root; service keepalived stop >/dev/null 2>&1; sleep 1; "
                 "/usr/sbin/gen-rc-conf >/dev/null 2>&1; service keepalived init >/dev/null 2>&1")

# What AstLinux's gen-rc-conf does to rc.conf: the defaults and every rc.conf.d/*.conf, comment
# and blank lines stripped, under its header, into /tmp/etc/rc.conf (where /etc/rc.conf points).
GEN_RC_CONF = f"""#!/bin/sh
# gen-rc-conf (lab stand-in): regenerate /tmp/etc/rc.conf as AstLinux's /usr/sbin/gen-rc-conf.
OUT=/tmp/etc/rc.conf
mkdir -p /tmp/etc
{{
  echo '## Auto-generated file, do not edit!!'
  for f in {STAT_RC} /mnt/kd/rc.conf.d/*.conf; do
    [ -f "$f" ] || continue
    sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' "$f"
  done
}} >"$OUT.new" && mv "$OUT.new" "$OUT"
"""

STAT_RC_TEXT = """### System defaults (stat/etc/rc.conf)

HOSTNAME="pbx"
# keepalived has no variable here: KEEPALIVED_OPTIONS is empty unless a user sets it
DOMAIN="localdomain"
"""


def web_box(lab: Lab, tmp_path: Path) -> Box:
    _, image = astlinux.shared_build()
    box = lab.add_box("ha", "10.10.50.62/24", image=image)
    sbin = tmp_path / "usr-sbin"
    sbin.mkdir()
    for name, text in (("gen-rc-conf", GEN_RC_CONF), ("service", astlinux.SERVICE_SH)):
        (sbin / name).write_text(text)
        (sbin / name).chmod(0o755)
    box.run(["mount", "-t", "overlay", "-o", f"lowerdir={sbin}:/usr/sbin", "lab-webui-sbin",
             "/usr/sbin"])
    box.write(STAT_RC, STAT_RC_TEXT)
    box.run(["ln", "-sfn", "/tmp/etc/rc.conf", "/etc/rc.conf"])
    return box


def webui(box: Box, cmd: str):
    """A shell command as the web interface runs it (a minimal environment, as at boot)."""
    return box.run(["env", "-i", f"PATH={BOOT_PATH}", "/bin/sh", "-c", cmd], check=False,
                   timeout=60)


def running(box: Box) -> bool:
    """statusPROCESS's test."""
    return box.exists(PIDFILE)


def daemon_argv(box: Box, pid: int) -> list[str]:
    return box.read(f"/proc/{pid}/cmdline").split("\0")[:-1]


def status(box: Box, state_dir: str) -> dict:
    return json.loads(box.read(f"{state_dir}/status.json"))


def wait_master(box: Box, state_dir: str, priority: int) -> dict:
    for _ in range(200):
        proc = box.run(["cat", f"{state_dir}/status.json"], check=False)
        if proc.returncode == 0:
            inst = json.loads(proc.stdout)["instances"]["VI_1"]
            if inst.get("state") == "MASTER" and inst.get("priority") == priority:
                return inst
        box.run(["sleep", "0.05"])
    raise AssertionError(f"not MASTER at priority {priority}: {status(box, state_dir)}")


def test_restart_applies_the_new_config_and_rc_conf_options(lab: Lab, tmp_path: Path):
    box = web_box(lab, tmp_path)
    seed = (REPO / "etc/keepalived/keepalived.conf.master").read_text()
    box.write(KD_CONF, seed)
    box.write(USER_CONF, "# user settings\nKEEPALIVED_OPTIONS=\"\"\n")

    # As at boot: rc.conf generated, then S12keepalived init.
    assert webui(box, "/usr/sbin/gen-rc-conf && service keepalived init").returncode == 0
    assert running(box)
    first = int(box.read(PIDFILE))
    assert daemon_pids(box) == [first]
    assert "--state-dir" not in daemon_argv(box, first)
    wait_master(box, "/var/state/keepalived", 100)

    # The admin edits both files in the web interface, then presses "Restart Keepalived".
    box.write(KD_CONF, re.sub(r"(?m)^(\s*priority) 100$", r"\1 150", seed))
    box.write(USER_CONF,
              "# user settings\n\nKEEPALIVED_OPTIONS=\"-D --state-dir /var/state/webui\"\n")
    proc = webui(box, WEBUI_RESTART)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert running(box)  # "has Restarted and is Running"

    rc_conf = box.read("/etc/rc.conf")
    assert rc_conf.splitlines()[0] == "## Auto-generated file, do not edit!!"
    assert 'KEEPALIVED_OPTIONS="-D --state-dir /var/state/webui"' in rc_conf.splitlines()
    assert not [line for line in rc_conf.splitlines()[1:] if line.startswith("#") or not line]

    pid = int(box.read(PIDFILE))
    assert pid != first and daemon_pids(box) == [pid]
    argv = daemon_argv(box, pid)
    at = argv.index("-D")
    assert argv[at:] == ["-D", "--state-dir", "/var/state/webui", "-f",
                         "/etc/keepalived/keepalived.conf"], argv
    # The options took effect (its state is where --state-dir says) with the edited config.
    inst = wait_master(box, "/var/state/webui", 150)
    assert inst["state"] == "MASTER"
    assert box.holds("10.10.50.244")


def test_stop_removes_the_pid_file_so_the_web_interface_says_stopped(lab: Lab, tmp_path: Path):
    box = web_box(lab, tmp_path)
    box.write(KD_CONF, (REPO / "etc/keepalived/keepalived.conf.master").read_text())
    assert webui(box, WEBUI_RESTART).returncode == 0  # from stopped: stop is a no-op
    assert running(box)
    pid = int(box.read(PIDFILE))
    wait_master(box, "/var/state/keepalived", 100)

    assert service(box, "stop").returncode == 0
    assert not running(box)  # "is Stopped"
    # Gone (a zombie awaiting its reaper at most: the init script counts that as stopped).
    assert daemon_pids(box) == []
    state = box.run(["sh", "-c", f"sed -n 's/^State:[[:space:]]*//p' /proc/{pid}/status"],
                    check=False).stdout
    assert state == "" or state.startswith("Z"), state
    assert not box.holds("10.10.50.244")
