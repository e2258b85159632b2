"""Issue 13: the notify FIFO is readable only by its reader, and a stop never waits on
notify scripts beyond keepalived's one second for STOP ones.
"""

from __future__ import annotations

import signal
import stat
import time

import pytest
from attacks import KD, STATE, add_user, as_user, solo_conf, start, wait_log, wait_state

from lab.box import wait_until

pytestmark = [pytest.mark.root]

FIFO = "/tmp/keepalived.fifo"
OUT = f"{STATE}/scripts"


def _fifo_stat(box) -> tuple[int, int, int]:
    out = box.run(["stat", "-c", "%f %u %g", FIFO]).stdout.split()
    return int(out[0], 16), int(out[1]), int(out[2])


def test_another_user_cannot_read_the_notify_fifo(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    add_user(box)
    start(box, solo_conf(globals_=f"    notify_fifo {FIFO}"))
    wait_state(box, "MASTER")
    mode, uid, _gid = _fifo_stat(box)
    assert stat.S_ISFIFO(mode) and stat.S_IMODE(mode) == 0o600 and uid == 0
    # The attack: read (and so steal) the lines a root reader is meant to get.
    stolen = as_user(box, f"timeout 2 cat {FIFO}", check=False)
    assert stolen.returncode != 0 and "Permission denied" in stolen.stderr, stolen


def test_the_fifo_belongs_to_its_reader(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    uid = add_user(box)
    box.run(f"mkdir -p {KD} {OUT} && chmod 0777 {OUT}")
    # A planted FIFO, open to everyone, is taken over: its mode is ours to set.
    box.run(f"mkfifo -m 0666 {FIFO}")
    box.write(f"{KD}/reader.sh", f'#!/bin/sh\nexec cat "$1" > {OUT}/lines\n', mode=0o755)
    start(box, solo_conf(globals_=f"    notify_fifo {FIFO} mallory\n"
                                  f"    notify_fifo_script {KD}/reader.sh mallory"))
    wait_state(box, "MASTER")
    mode, owner, _gid = _fifo_stat(box)
    assert stat.S_IMODE(mode) == 0o600 and owner == uid
    assert wait_until(lambda: 'INSTANCE "VI_1" MASTER 100' in box.read(f"{OUT}/lines"), 5)


HANG = f"""#!/bin/sh
echo "$1 $$ $(date +%s.%N)" >> {OUT}/hang
trap '' TERM
sleep 600
"""


def _alive(box, pid: str) -> bool:
    return box.run(["kill", "-0", pid], check=False).returncode == 0


def test_sigterm_does_not_wait_for_hung_notifies(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    box.run(f"mkdir -p {KD} {OUT} && chmod 0777 {OUT}")
    box.write(f"{KD}/hang.sh", HANG, mode=0o755)
    proc = start(box, solo_conf(instance=f"    notify_master \"{KD}/hang.sh master\"\n"
                                         f"    notify_stop \"{KD}/hang.sh stop\""))
    wait_state(box, "MASTER")
    assert wait_until(lambda: box.exists(f"{OUT}/hang"), 5)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert wait_until(lambda: not proc.alive(), 10), proc.log_text()
    took = time.monotonic() - started
    runs = {line.split()[0]: line.split()[1] for line in box.read(f"{OUT}/hang").splitlines()}
    assert set(runs) == {"master", "stop"}, runs
    # STOP got keepalived's 1 s, then its group was SIGKILLed; the MASTER one is left alone.
    assert not _alive(box, runs["stop"])
    assert _alive(box, runs["master"])
    assert 0.9 < took < 2.0, f"stop took {took:.2f} s"
    wait_log(proc, "Stopped VRRP", 1)


def test_sigterm_during_a_reload_does_not_wait_for_the_removed_instances_notifies(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    box.run(f"mkdir -p {KD} {OUT} && chmod 0777 {OUT}")
    box.write(f"{KD}/hang.sh", HANG, mode=0o755)
    second = solo_conf(instance=f"    notify \"{KD}/hang.sh gone\"")
    second = second[second.index("vrrp_instance"):].replace("VI_1", "VI_2").replace(
        "virtual_router_id 50", "virtual_router_id 51").replace("10.10.50.244", "10.10.50.245")
    proc = start(box, solo_conf() + second)
    wait_state(box, "MASTER")
    box.write(f"{KD}/keepalived.conf", solo_conf())  # VI_2 removed: its notify hangs
    # VI_2's notify hangs from its first state on: its queue holds every later one.
    assert wait_until(lambda: box.exists(f"{OUT}/hang"), 10)
    proc.send_signal(signal.SIGHUP)
    wait_log(proc, "Reloading configuration")
    time.sleep(0.3)  # the reload now drains VI_2's notifies (30 s each, unhurried)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert wait_until(lambda: not proc.alive(), 15), proc.log_text()
    took = time.monotonic() - started
    assert took < 2.5, f"stop took {took:.2f} s"
