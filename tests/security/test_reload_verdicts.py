"""Issue 13, attack 2: a notify script made writable by others after start, rewritten by
another user, must not run as root after a reload. keepalived re-judges every script on
SIGHUP and disables it; so must we, for kept (unchanged) instances too.
"""

from __future__ import annotations

import signal

import pytest
from attacks import KD, STATE, add_user, as_user, solo_conf, start, wait_log, wait_state

from lab.box import wait_until

pytestmark = [pytest.mark.root]

OUT = f"{STATE}/scripts"
RECORD = f"#!/bin/sh\necho \"$0 $*\" >> {OUT}/runs\n"
# What the attacker writes in place of the admin's script: proof of running, and as whom.
PAYLOAD = f"#!/bin/sh\nid -u > {OUT}/pwned\n"


def _runs(box) -> list[str]:
    """The recorded runs for MASTER (the generic notify also runs for BACKUP)."""
    if not box.exists(f"{OUT}/runs"):
        return []
    return [r for r in box.read(f"{OUT}/runs").splitlines() if "BACKUP" not in r]


@pytest.mark.parametrize("keyword", ["notify_master", "notify"])
def test_a_script_rewritten_after_start_never_runs_after_a_reload(lab, keyword):
    box = lab.add_box("master", "10.10.50.62/24")
    add_user(box)
    box.run(f"mkdir -p {KD} {OUT} && chmod 0777 {OUT}")
    box.write(f"{KD}/on_master.sh", RECORD, mode=0o755)
    proc = start(box, solo_conf(instance=f"    {keyword} {KD}/on_master.sh"))
    wait_state(box, "MASTER")
    assert wait_until(lambda: len(_runs(box)) == 1, 5), _runs(box)

    # The admin's slip: the script is left world-writable; another user rewrites it.
    box.run(f"chmod 0777 {KD}/on_master.sh")
    as_user(box, f"printf '%s' '{PAYLOAD}' > {KD}/on_master.sh")
    proc.send_signal(signal.SIGHUP)
    wait_log(proc, "Reload finished")
    assert "Unsafe permissions found for script" in proc.log_text()
    assert "1 instances kept" in proc.log_text(), "the instance itself is kept in its state"

    # A new mastership: the old notifier would run the attacker's file as root now.
    box.pull_cable()
    wait_state(box, "FAULT")
    box.replug_cable()
    wait_state(box, "MASTER")
    assert not wait_until(lambda: box.exists(f"{OUT}/pwned"), 1.5), (
        f"the rewritten script ran as uid {box.read(f'{OUT}/pwned').strip()}")
    assert proc.alive()


def test_a_script_made_safe_again_runs_after_the_next_reload(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    box.run(f"mkdir -p {KD} {OUT} && chmod 0777 {OUT}")
    box.write(f"{KD}/on_master.sh", RECORD, mode=0o777)
    proc = start(box, solo_conf(instance=f"    notify_master {KD}/on_master.sh"))
    wait_state(box, "MASTER")
    assert not wait_until(lambda: _runs(box), 1.0), "an unsafe script ran at start"
    box.run(f"chmod 0755 {KD}/on_master.sh")
    proc.send_signal(signal.SIGHUP)
    wait_log(proc, "Reload finished")
    box.pull_cable()
    wait_state(box, "FAULT")
    box.replug_cable()
    wait_state(box, "MASTER")
    assert wait_until(lambda: len(_runs(box)) == 1, 5), "the new verdict is used at once"


HANG = "#!/bin/sh\ntrap '' TERM\nsleep 600\n"


def test_the_new_verdict_holds_while_the_reload_is_still_stopping_other_instances(lab):
    # A removed instance whose notify hangs keeps the reload busy stopping it; a kept
    # instance that becomes MASTER meanwhile must already use the new verdicts.
    box = lab.add_box("master", "10.10.50.62/24")
    add_user(box)
    box.run(f"mkdir -p {KD} {OUT} && chmod 0777 {OUT}")
    box.write(f"{KD}/on_master.sh", RECORD, mode=0o755)
    box.write(f"{KD}/hang.sh", HANG, mode=0o755)
    kept = solo_conf(instance=f"    notify_master {KD}/on_master.sh")
    doomed = solo_conf(instance=f"    notify {KD}/hang.sh")
    doomed = doomed[doomed.index("vrrp_instance"):].replace("VI_1", "VI_2").replace(
        "virtual_router_id 50", "virtual_router_id 51").replace("10.10.50.244", "10.10.50.245")
    proc = start(box, kept + doomed)
    wait_state(box, "MASTER")
    assert wait_until(lambda: len(_runs(box)) == 1, 5), _runs(box)
    box.run(f"chmod 0777 {KD}/on_master.sh")
    as_user(box, f"printf '%s' '{PAYLOAD}' > {KD}/on_master.sh")
    box.write(f"{KD}/keepalived.conf", kept)
    proc.send_signal(signal.SIGHUP)
    wait_log(proc, "(VI_2) removing VIPs.")  # loaded and judged; now stopping VI_2
    box.pull_cable()
    wait_state(box, "FAULT")
    box.replug_cable()
    wait_state(box, "MASTER")
    assert "Reload finished" not in proc.log_text(), "the window this test needs is gone"
    assert not wait_until(lambda: box.exists(f"{OUT}/pwned"), 1.5), (
        f"the rewritten script ran as uid {box.read(f'{OUT}/pwned').strip()}")
