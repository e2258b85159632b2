"""Issue 13, attack 1: a user who may write to /var/state/keepalived (an admin made it
group-writable for a non-root script_user, as the README's scripts section invites) plants
links there to make the root daemon overwrite a root file. keepalived's CVE-2018-19044 class.
"""

from __future__ import annotations

import json
import signal
import stat

import pytest
from attacks import (
    ATTACKER,
    STATE,
    VICTIM,
    add_user,
    as_user,
    plant_victim,
    solo_conf,
    start,
    victim_intact,
    wait_log,
    wait_state,
)

from lab.box import wait_until

pytestmark = [pytest.mark.root]

NAMES = ("keepalived.data", "keepalived.stats", "status.json", "transitions.jsonl")


def _lstat(box, path: str) -> tuple[int, int, int]:
    out = box.run(["stat", "-c", "%f %u %h", path]).stdout.split()
    return int(out[0], 16), int(out[1]), int(out[2])


def test_links_planted_in_a_group_writable_state_dir_are_never_followed(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    add_user(box)
    plant_victim(box)
    box.run(f"mkdir -p {STATE} && chgrp {ATTACKER} {STATE} && chmod 0775 {STATE}")
    proc = start(box, solo_conf())
    wait_state(box, "MASTER")
    pid = json.loads(box.read(f"{STATE}/status.json"))["pid"]

    # Every name the daemon writes, and every temporary name it could guess from the pid.
    plants = [f"ln -sf {VICTIM} {STATE}/{name}" for name in NAMES]
    plants += [f"ln -sf {VICTIM} {STATE}/.{name}.{pid}.tmp" for name in NAMES]
    as_user(box, " && ".join(plants))
    proc.send_signal(signal.SIGUSR1)
    proc.send_signal(signal.SIGUSR2)
    wait_log(proc, "keepalived.stats")
    box.pull_cable()  # a transition: the journal and status.json are written
    wait_state(box, "FAULT")
    box.replug_cable()
    wait_state(box, "MASTER")

    assert victim_intact(box), box.read(VICTIM)
    modes = {"keepalived.data": 0o600, "keepalived.stats": 0o600, "status.json": 0o644,
             "transitions.jsonl": 0o644}
    for name, mode in modes.items():
        st_mode, uid, links = _lstat(box, f"{STATE}/{name}")
        assert stat.S_ISREG(st_mode) and stat.S_IMODE(st_mode) == mode, (name, oct(st_mode))
        assert uid == 0 and links == 1, name
    journal = [json.loads(x) for x in box.read(f"{STATE}/transitions.jsonl").splitlines()]
    assert [j["to"] for j in journal] == ["FAULT", "BACKUP", "MASTER"]
    # The directory stays the scripts' to use.
    as_user(box, f"echo mine > {STATE}/script-state")
    assert proc.alive()


def test_a_state_dir_that_is_a_symlink_to_a_users_dir_is_not_used(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    add_user(box)
    as_user(box, "mkdir -m 0777 /tmp/mallory-state")
    box.run(f"rm -rf {STATE} && ln -s /tmp/mallory-state {STATE}")
    proc = start(box, solo_conf())
    # VRRP goes on without state files; the refusal is said once.
    assert wait_until(lambda: box.holds("10.10.50.244"), 10), proc.log_text()
    proc.send_signal(signal.SIGUSR1)
    wait_log(proc, "is a symlink")
    assert box.run(["ls", "-A", "/tmp/mallory-state"]).stdout == ""
    assert proc.log_text().count("is a symlink") <= 4  # one line per kind of file at most
