"""Helpers for the hardening lab tests: the seed pair of our daemons, an attacker box, and
reading what the daemons say about themselves (status.json, transitions, SIGUSR2 stats)."""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from pathlib import Path

from lab import Box, Daemon, Lab, Spawned, daemons
from lab.box import wait_until

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "etc" / "keepalived"
VIP = "10.10.50.244"
STATE = "/var/state/keepalived"
ATTACKER = ("attacker", "10.10.50.70/24")
SETTLE = 8.0


def seed_conf(box: str, *, advert_int: float | None = None, version: int | None = None,
              extra_instance: str = "") -> str:
    """The seed's config for ``box`` (master/backup), optionally faster or in v3."""
    text = (SEED / f"keepalived.conf.{box}").read_text()
    lines = []
    if advert_int is not None:
        lines.append(f"advert_int {advert_int:g}")
    if version is not None:
        lines.append(f"version {version}")
    if lines or extra_instance:
        repl = "\n    ".join(lines + ([extra_instance] if extra_instance else []))
        text, count = re.subn(r"(?m)^(\s*)advert_int 1\s*$", rf"\g<1>{repl}", text)
        assert count == 1
    return text


def start(box: Box, text: str) -> Spawned:
    daemons.install_config(box, text)
    proc = daemons.start(box, Daemon.ASTLINUX_HA)
    assert daemons.wait_ready(proc, 15), proc.log_text()
    return proc


def status(box: Box) -> dict:
    return json.loads(box.read(f"{STATE}/status.json"))


def role(box: Box) -> str | None:
    try:
        return status(box)["instances"]["VI_1"]["state"]
    except Exception:
        return None


def transitions(box: Box) -> list[dict]:
    if not box.exists(f"{STATE}/transitions.jsonl"):
        return []
    return [json.loads(line) for line in box.read(f"{STATE}/transitions.jsonl").splitlines()]


def pair(lab: Lab, **conf) -> tuple[Box, Box, Spawned, Spawned]:
    """Our two daemons on the seed's boxes; the master holds the VIP, the backup is BACKUP."""
    master, backup, _client = lab.add_seed_boxes()
    pm = start(master, seed_conf("master", **conf))
    pb = start(backup, seed_conf("backup", **conf))
    lab.wait_for_holders(VIP, ["master"], SETTLE)
    assert wait_until(lambda: role(backup) == "BACKUP", SETTLE)
    assert wait_until(lambda: role(master) == "MASTER", SETTLE)
    return master, backup, pm, pb


def stats(box: Box, proc: Spawned) -> dict[str, int]:
    """SIGUSR2, then the counters of VI_1 (and the daemon-wide ones) from keepalived.stats."""
    before = proc.log_text().count(f"Wrote {STATE}/keepalived.stats")
    proc.send_signal(signal.SIGUSR2)
    assert wait_until(
        lambda: proc.log_text().count(f"Wrote {STATE}/keepalived.stats") > before, 5)
    text = box.read(f"{STATE}/keepalived.stats")
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"(?m)^ +([^:\n]+): (\d+)$", text)}


def attack(attacker: Box, *args: str, timeout: float = 60) -> dict:
    """Run lab.hostile in the attacker box; its JSON report."""
    out = attacker.run([sys.executable, "-m", "lab.hostile", *args], cwd=str(REPO),
                       timeout=timeout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def stays(lab: Lab, holders: list[str], seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert lab.holders(VIP) == holders
        time.sleep(0.02)
