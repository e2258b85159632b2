"""The daemon's life cycle on the lab's wire: crashes, signals and its runtime state files.

Two of our daemons run the seed's pair (unicast, vrrp_check_unicast_src) in v3 with 50 ms
adverts, so every takeover below takes a fraction of a second; the timing of v2 is the
walk-through's business (tests/interop).
"""

from __future__ import annotations

import datetime
import json
import re
import signal
import time
from pathlib import Path

import pytest

from lab import Box, Daemon, Lab, Spawned, daemons
from lab.box import wait_until

pytestmark = [pytest.mark.root]

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived"
VIP = "10.10.50.244"
STATE = "/var/state/keepalived"
ADVERT_INT = 0.05
# Generous against a loaded 2-core host; the protocol needs ~0.2 s for each of these.
SETTLE = 5.0


def conf(box: str) -> str:
    return daemons.with_advert((SEED / f"keepalived.conf.{box}").read_text(),
                               f"advert_int {ADVERT_INT:g}", "version 3")


def start(box: Box, text: str | None = None) -> Spawned:
    daemons.install_config(box, text or conf(box.name))
    proc = daemons.start(box, Daemon.ASTLINUX_HA)
    assert daemons.wait_ready(proc, 15), proc.log_text()
    return proc


def transitions(box: Box) -> list[dict]:
    if not box.exists(f"{STATE}/transitions.jsonl"):
        return []
    return [json.loads(line) for line in box.read(f"{STATE}/transitions.jsonl").splitlines()]


def status(box: Box) -> dict:
    return json.loads(box.read(f"{STATE}/status.json"))


def pair(lab: Lab) -> tuple[Box, Box, Spawned, Spawned]:
    """Both daemons running, the master holding the VIP, the backup in BACKUP."""
    master, backup, _client = lab.add_seed_boxes()
    pm, pb = start(master), start(backup)
    lab.wait_for_holders(VIP, ["master"], SETTLE)
    assert wait_until(lambda: status(backup)["instances"]["VI_1"]["state"] == "BACKUP", SETTLE)
    return master, backup, pm, pb


def stays(lab: Lab, holders: list[str], seconds: float) -> None:
    """The VIP is held by exactly ``holders`` at every poll for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert lab.holders(VIP) == holders
        time.sleep(0.02)


def wait_log(proc: Spawned, text: str, timeout: float = SETTLE) -> None:
    assert wait_until(lambda: text in proc.log_text(), timeout), proc.log_text()


def test_kill9_of_the_master_then_restart_leaves_one_holder(lab):
    master, backup, pm, _pb = pair(lab)
    pm.stop(sig=signal.SIGKILL)
    # A crashed daemon cannot clean up: the VIP stays behind while the backup takes over.
    lab.wait_for_holders(VIP, ["master", "backup"], SETTLE)
    pm = start(master)
    # At start-up the leftover goes at once; the master then preempts the backup.
    wait_log(pm, "(VI_1) removed leftover VIP 10.10.50.244")
    lab.wait_for_holders(VIP, ["master"], SETTLE)
    stays(lab, ["master"], 0.5)
    assert status(master)["instances"]["VI_1"]["state"] == "MASTER"
    assert status(backup)["instances"]["VI_1"]["state"] == "BACKUP"


def test_sighup_with_an_unchanged_config_causes_no_transition(lab):
    master, backup, pm, pb = pair(lab)
    before = {b.name: transitions(b) for b in (master, backup)}
    for proc in (pm, pb):
        proc.send_signal(signal.SIGHUP)
    for proc in (pm, pb):
        wait_log(proc, "Reload finished: 1 instances kept, 0 (re)started")
    stays(lab, ["master"], 0.5)
    assert {b.name: transitions(b) for b in (master, backup)} == before
    assert status(master)["reloads"] == 1
    assert status(master)["instances"]["VI_1"]["state"] == "MASTER"


def test_sighup_with_a_broken_config_keeps_the_running_one(lab):
    master, _backup, pm, _pb = pair(lab)
    before = transitions(master)
    # An admin's slip: a keyword left without its value, which keepalived 2.4.3 refuses.
    master.write(f"{daemons.CONF_DIR}/keepalived.conf",
                 conf("master").replace("interface eth0", "interface"))
    pm.send_signal(signal.SIGHUP)
    wait_log(pm, "Reload of /etc/keepalived/keepalived.conf failed - keeping the running "
                 "configuration")
    assert pm.alive()
    stays(lab, ["master"], 0.5)
    assert transitions(master) == before
    # The error itself is logged with its place, as -t would print it.
    assert re.search(r"keepalived\.conf:\d+: ", pm.log_text()), pm.log_text()
    # A fixed config is taken on the next SIGHUP.
    master.write(f"{daemons.CONF_DIR}/keepalived.conf", conf("master"))
    pm.send_signal(signal.SIGHUP)
    wait_log(pm, "Reload finished")


def test_sighup_keeps_the_config_id_given_with_dash_i(lab):
    # One file for both boxes, keepalived's way: @ID lines pick each box's priority.
    master, _backup, _client = lab.add_seed_boxes()
    text = conf("master").replace("    priority 100\n",
                                  "    @high priority 150\n    @^high priority 50\n")
    assert "@high" in text
    daemons.install_config(master, text)
    pm = master.spawn(Daemon.ASTLINUX_HA.argv() + ["-i", "high"], name="astlinux-ha")
    assert daemons.wait_ready(pm, 15), pm.log_text()
    assert wait_until(lambda: master.exists(f"{STATE}/status.json"), SETTLE)
    assert wait_until(lambda: status(master)["instances"]["VI_1"]["priority"] == 150, SETTLE)
    pm.send_signal(signal.SIGHUP)
    # Reloaded without the id, the file would say priority 50: a changed instance, restarted.
    wait_log(pm, "Reload finished: 1 instances kept, 0 (re)started")
    assert status(master)["instances"]["VI_1"]["priority"] == 150


def test_sigterm_sends_priority_0_removes_vips_and_exits_0_within_2s(lab):
    master, backup, pm, _pb = pair(lab)
    cap = lab.capture()
    time.sleep(0.2)  # tcpdump is listening before the stop
    started = time.monotonic()
    code = pm.stop(timeout=10)
    took = time.monotonic() - started
    assert code == 0, pm.log_text()
    assert took < 2.0
    assert not master.holds(VIP)
    lab.wait_for_holders(VIP, ["backup"], SETTLE)
    time.sleep(0.2)
    cap.stop()
    farewell = [p for p in cap.packets() if p.src == master.ip and p.payload[2] == 0]
    assert farewell and all(p.dst == backup.ip and p.ttl == 255 for p in farewell)
    log = pm.log_text()
    assert "(VI_1) sent 0 priority" in log and "(VI_1) removing VIPs." in log
    assert transitions(master)[-1]["cause"] == "shutdown"


def test_sigusr1_and_sigusr2_write_dumps_in_the_state_dir(lab):
    master, _backup, pm, _pb = pair(lab)
    pm.send_signal(signal.SIGUSR1)
    pm.send_signal(signal.SIGUSR2)
    wait_log(pm, f"Wrote {STATE}/keepalived.data")
    wait_log(pm, f"Wrote {STATE}/keepalived.stats")
    data = master.read(f"{STATE}/keepalived.data")
    assert "VRRP Instance = VI_1" in data and "State = MASTER" in data
    assert "Virtual IP = 10.10.50.244" in data and "Unicast peers = 10.10.50.65" in data
    stats = master.read(f"{STATE}/keepalived.stats")
    sent = re.search(r"(?m)^  sent: (\d+)$", stats)
    assert sent and int(sent.group(1)) > 0, stats


def _since(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def test_status_json_and_transitions_tell_an_admin_what_happened(lab):
    master, backup, _pm, _pb = pair(lab)
    m = status(master)["instances"]["VI_1"]
    assert (m["state"], m["priority"], m["effective_priority"]) == ("MASTER", 100, 100)
    assert m["vips"] == [VIP] and m["master"] == master.ip
    assert m["counters"]["sent"] > 0 and m["counters"]["to_master"] == 1
    # The backup learns its master from the first advert; status.json follows within 50 ms.
    assert wait_until(lambda: status(backup)["instances"]["VI_1"]["master"] == master.ip, SETTLE)
    b = status(backup)["instances"]["VI_1"]
    assert (b["state"], b["priority"], b["master"]) == ("BACKUP", 99, master.ip)
    assert b["counters"]["accepted"] > 0
    became_backup = _since(b["since"])

    master.pull_cable()
    lab.wait_for_holders(VIP, ["backup"], SETTLE)
    assert wait_until(lambda: status(backup)["instances"]["VI_1"]["state"] == "MASTER", SETTLE)
    assert wait_until(lambda: status(master)["instances"]["VI_1"]["state"] == "FAULT", SETTLE)
    b = status(backup)["instances"]["VI_1"]
    assert b["master"] == backup.ip and _since(b["since"]) > became_backup
    last = transitions(backup)[-1]
    assert (last["from"], last["to"]) == ("BACKUP", "MASTER")
    assert re.fullmatch(r"master down timer expired: last advert from 10\.10\.50\.62 "
                        r"\d+\.\d s ago", last["cause"]), last
    assert transitions(master)[-1]["cause"] == "interface eth0 down"

    master.replug_cable()
    lab.wait_for_holders(VIP, ["master"], SETTLE)
    for box in (master, backup):
        for record in transitions(box):
            assert record["cause"] and record["instance"] == "VI_1", record
            _since(record["time"])
