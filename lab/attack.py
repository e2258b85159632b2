"""Attacks measured in the lab: the hostile packets of :mod:`lab.hostile`, sent from an
attacker box at a running pair, with what each daemon did about them.

* :func:`measure_kinds`: each kind of broken or forged advert in turn, at the master, the
  backup and 224.0.0.18; per kind, whether the VIP moved, whether anyone changed state, whether
  both daemons lived, which of each daemon's own counters grew and how many log lines it
  wrote. It works the same for astlinux-ha and keepalived, so the two can be set side by side.
* :func:`measure_flood`: the mixed flood at the master; whether the VIP moved, how late the
  master's adverts left (on the wire), how much CPU the daemon used.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
from pathlib import Path

from . import Box, Daemon, Lab, Spawned, hostile, procstat
from .box import wait_until
from .stats import percentile

REPO = Path(__file__).resolve().parents[1]
# Where each daemon writes its SIGUSR2 statistics inside a box.
STATS_PATHS = {Daemon.ASTLINUX_HA: "/var/state/keepalived/keepalived.stats",
               Daemon.KEEPALIVED: "/tmp/keepalived.stats"}
# Counters of a daemon's normal work (its own adverts and announcements, adverts it took in),
# which grow whether or not anyone attacks; the rest count packets refused, per reason.
TRAFFIC_COUNTERS = frozenset({
    "Advertisements/Sent", "Advertisements/Received", "Became master", "Released master",
    "Priority Zero/Sent", "sent", "accepted", "garp_sent", "arp_probe_sent", "send_error",
})
# Lines a daemon logs because we asked for its statistics, not because of the attack.
_STATS_LOG = re.compile(r"Wrote /var/state/keepalived/keepalived.stats|Printing VRRP stats")
_HEADER = re.compile(r"^( *)([^:]+):\s*(.*)$")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children (keepalived's VRRP work is a child)."""
    return sum(procstat.cpu_seconds(pid).values())


def parse_stats(text: str) -> dict[str, int]:
    """Counters of a stats file as ``section/name -> value``.

    Both layouts nest by indentation: keepalived's ``Packet Errors:`` / ``    Length: 0``
    and ours ``VRRP Instance: VI_1`` / ``  checksum: 3``. Instance header lines are left out
    of the key, since one instance runs here.
    """
    counters: dict[str, int] = {}
    path: list[tuple[int, str]] = []
    for line in text.splitlines():
        m = _HEADER.match(line)
        if not m or line.startswith("---"):
            continue
        indent, name, value = len(m.group(1)), m.group(2).strip(), m.group(3).strip()
        while path and path[-1][0] >= indent:
            path.pop()
        if value.isdigit():
            counters["/".join([p for _, p in path] + [name])] = int(value)
        elif not value:
            path.append((indent, name))
        elif indent == 0 and name != "VRRP Instance":
            path.append((indent, name))
    return counters


def _mtime(box: Box, path: str) -> str:
    out = box.run(["stat", "-c", "%.9Y", path], check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def read_stats(box: Box, proc: Spawned, daemon: Daemon, timeout: float = 5.0) -> dict[str, int]:
    """SIGUSR2 to the daemon, then its counters once the file has been written anew."""
    path = STATS_PATHS[daemon]
    old = _mtime(box, path)
    proc.send_signal(signal.SIGUSR2)
    wait_until(lambda: _mtime(box, path) not in ("", old), timeout, 0.01)
    time.sleep(0.01)  # neither daemon writes the file atomically
    return parse_stats(box.read(path))


class HolderWatch:
    """Who holds ``vip``, sampled every 20 ms in a thread while the block runs."""

    def __init__(self, lab: Lab, vip: str) -> None:
        self.lab, self.vip = lab, vip
        self.seen: dict[str, int] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._done.is_set():
            key = ",".join(self.lab.holders(self.vip)) or "nobody"
            self.seen[key] = self.seen.get(key, 0) + 1
            self._done.wait(0.02)

    def __enter__(self) -> HolderWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def moved(self, holder: str) -> bool:
        """Whether anyone but ``holder`` (alone) held the VIP at any sample."""
        return set(self.seen) != {holder}


def send(attacker: Box, *args: str, timeout: float = 60) -> dict:
    """Run ``python -m lab.hostile`` in the attacker box; its JSON report."""
    out = attacker.run([sys.executable, "-m", "lab.hostile", *args], cwd=str(REPO),
                       timeout=timeout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _log_lines(proc: Spawned) -> list[str]:
    return [line for line in proc.log_text().splitlines() if not _STATS_LOG.search(line)]


def _states_entered(lines: list[str]) -> int:
    return sum("Entering" in line and "STATE" in line for line in lines)


def measure_kinds(lab: Lab, boxes: dict[str, tuple[Box, Spawned]], attacker: Box,
                  daemon: Daemon, *, vip: str, holder: str = "master", count: int = 10,
                  kinds: list[str] | None = None) -> list[dict]:
    """Each kind ``count`` times at every box of ``boxes`` and at 224.0.0.18, one kind at a
    time; per kind and box, the refusal counters (not :data:`TRAFFIC_COUNTERS`) that grew by
    at least ``count`` / 2, and the log lines written."""
    targets = [box.ip for box, _ in boxes.values()] + ["224.0.0.18"]
    dst_args = [a for ip in targets for a in ("--dst", ip)]
    base = {name: read_stats(box, proc, daemon) for name, (box, proc) in boxes.items()}
    logs = {name: len(_log_lines(proc)) for name, (_box, proc) in boxes.items()}
    rows = []
    for kind in kinds or list(hostile.KINDS):
        with HolderWatch(lab, vip) as watch:
            sent = send(attacker, "--kind", kind, "--count", str(count), *dst_args)
            time.sleep(0.1)  # the last packets are read before the counters are
        row: dict = {"kind": kind, "sent": sum(sent.values()), "vip_moved": watch.moved(holder),
                     "holders": dict(watch.seen), "boxes": {}}
        for name, (box, proc) in boxes.items():
            now = read_stats(box, proc, daemon) if proc.alive() else {}
            lines = _log_lines(proc)
            new = lines[logs[name]:]
            grown = {k: v - base[name].get(k, 0) for k, v in now.items()
                     if k not in TRAFFIC_COUNTERS
                     and v - base[name].get(k, 0) >= max(1, count // 2)}
            row["boxes"][name] = {"alive": proc.alive(), "counted": grown,
                                  "log_lines": len(new), "state_changes": _states_entered(new),
                                  "log_sample": new[:2]}
            base[name], logs[name] = now or base[name], len(lines)
        rows.append(row)
    return rows


def measure_flood(lab: Lab, master: Box, backup: Box, attacker: Box, daemon_pid: int, *,
                  vip: str, advert_int: float, seconds: float = 10.0,
                  rate: float = 10_000) -> dict:
    """Flood ``master`` from ``attacker`` and watch: VIP holders every 20 ms, the master's
    adverts on the wire (lateness = gap - advert_int), the daemon's CPU (with children)."""
    cap = lab.capture(f"ip proto 112 and src host {master.ip} and dst host {backup.ip}")
    time.sleep(max(0.3, 2 * advert_int))
    with HolderWatch(lab, vip) as watch:
        cpu0, t0 = cpu_seconds(daemon_pid), time.monotonic()
        start_wall = time.time()
        try:
            sent = send(attacker, "--dst", master.ip, "--flood", "--rate", str(rate),
                        "--seconds", str(seconds), timeout=seconds + 60)
        finally:
            cpu1, t1 = cpu_seconds(daemon_pid), time.monotonic()
            end_wall = time.time()
            time.sleep(max(0.3, 2 * advert_int))
            cap.stop()
    times = [p.time for p in cap.packets() if start_wall <= p.time <= end_wall]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    late = [max(0.0, g - advert_int) * 1000 for g in gaps]
    return {
        "flood": sent,
        "holders": dict(watch.seen),
        "vip_moved": watch.moved(master.name),
        "adverts": len(times),
        "lateness_ms": {"p50": percentile(late, 50) if late else None,
                        "p99": percentile(late, 99) if late else None,
                        "max": max(late) if late else None},
        "cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 1) if t1 > t0 else None,
    }
