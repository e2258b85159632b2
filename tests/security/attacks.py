"""What the attack tests share: an unprivileged local user made inside a box, and a single
box running our daemon as the only router of the seed's VRID (it becomes MASTER on its own).

Users are added with the box's own useradd: /etc is an overlay in each box, so the host's
passwd files never change, and whatever a failed defence lets the attacker overwrite is the
box's copy.
"""

from __future__ import annotations

import json
import shlex

from lab import Box, Daemon, Spawned, daemons
from lab.box import wait_until

VIP = "10.10.50.244"
KD = "/mnt/kd/keepalived"
STATE = "/var/state/keepalived"
ATTACKER = "mallory"
# A root-only file a successful attack would overwrite (the box's own, never the host's).
VICTIM = "/etc/victim-shadow"
VICTIM_TEXT = "root:$6$secret:19000:0:99999:7:::\n"


def add_user(box: Box, name: str = ATTACKER) -> int:
    """Create an unprivileged user (and its group) in ``box``; returns its uid."""
    box.run(f"groupadd {name} && useradd -M -N -g {name} -s /bin/sh {name}")
    return int(box.run(["id", "-u", name]).stdout)


def as_user(box: Box, script: str, name: str = ATTACKER, *, check: bool = True):
    """Run shell ``script`` in ``box`` as ``name`` (real uid and gid, no capabilities)."""
    return box.run(["setpriv", "--reuid", name, "--regid", name, "--init-groups",
                    "--reset-env", "sh", "-c", script], check=check)


def plant_victim(box: Box) -> None:
    box.write(VICTIM, VICTIM_TEXT, mode=0o600)


def victim_intact(box: Box) -> bool:
    return box.read(VICTIM) == VICTIM_TEXT


def solo_conf(*, globals_: str = "", instance: str = "", scripts: str = "") -> str:
    """One v3 instance with 0.1 s adverts and no peer: MASTER 0.4 s after start."""
    return f"""global_defs {{
    router_id ASTLINUX
    enable_script_security
    script_user root root
{globals_}
}}
{scripts}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 50
    version 3
    priority 100
    advert_int 0.1
    virtual_ipaddress {{
        {VIP}/32 dev eth0 label eth0:10
    }}
{instance}
}}
"""


def start(box: Box, text: str) -> Spawned:
    daemons.install_config(box, text)
    proc = daemons.start(box, Daemon.ASTLINUX_HA)
    assert daemons.wait_ready(proc, 15), proc.log_text()
    return proc


def state(box: Box) -> str | None:
    try:
        return json.loads(box.read(f"{STATE}/status.json"))["instances"]["VI_1"]["state"]
    except Exception:
        return None


def wait_state(box: Box, wanted: str, timeout: float = 10.0) -> None:
    assert wait_until(lambda: state(box) == wanted, timeout), f"never {wanted}: {state(box)}"


def wait_log(proc: Spawned, text: str, timeout: float = 10.0) -> None:
    assert wait_until(lambda: text in proc.log_text(), timeout), proc.log_text()


def quote(*words: str) -> str:
    return " ".join(shlex.quote(w) for w in words)
