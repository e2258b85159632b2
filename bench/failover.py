"""Rows 1 and 2: start, cable pull, replug and graceful stop, timed, with a pinging client.

One repetition on the seed's three boxes (master .62, backup .65, client .10):

1. start both daemons            -> ``start``: until the master alone holds the VIP
2. pull the master's cable       -> ``pull``: until the backup holds it; ``pull_outage``: the
                                    client's longest silence; ``pull_wire``: on the switch, the
                                    master's last advert to the backup's first (compare with the
                                    RFC master-down interval)
                                    ``pull_outage_wire``: the client's outage from that last
                                    advert: the same for any phase of the pull, so the fair
                                    comparison between daemons
3. replug                        -> ``replug``: until the master alone holds it again
4. SIGTERM the master's daemon   -> ``stop``: until the backup holds it; ``stop_outage``;
                                    ``stop_wire``: the master's priority-0 advert to the
                                    backup's first advert
Then the backup's daemon is stopped too and the boxes are checked clean for the next one.
Times come from ``ip -ts monitor`` in the boxes, ``ping -D`` in the client and the switch's
pcap, all wall clock; nothing is polled for a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lab import Box, Capture, Daemon, Lab, Pinger, Spawned, daemons
from lab.stats import master_down_interval, skew_time

from .configs import BACKUP_PRIO, VIP, Variant
from .watch import AddrWatch

METRICS = ["start", "pull", "pull_wire", "pull_outage", "pull_outage_wire", "replug", "stop",
           "stop_wire", "stop_outage"]
RESUME_TIMEOUT = 3.0  # after a handover, the client must get answers again within this


class StepFailed(Exception):
    """A step did not reach its outcome in time."""


@dataclass
class Seed:
    """The seed's boxes in a lab, with an address watch on each VRRP box."""

    lab: Lab
    master: Box
    backup: Box
    client: Box
    watch: dict[str, AddrWatch] = field(default_factory=dict)

    @classmethod
    def build(cls, lab: Lab) -> Seed:
        master, backup, client = lab.add_seed_boxes()
        seed = cls(lab, master, backup, client)
        seed.watch = {b.name: AddrWatch(b) for b in (master, backup)}
        return seed


def _wait_holders(seed: Seed, want: list[Box], timeout: float, step: str = "") -> None:
    names = sorted(b.name for b in want)
    deadline = time.monotonic() + timeout
    while sorted(seed.lab.holders(VIP)) != names:
        if time.monotonic() > deadline:
            raise StepFailed(f"{step}: VIP held by {seed.lab.holders(VIP) or 'nobody'} after "
                             f"{timeout:.1f}s, expected {names or 'nobody'}")
        time.sleep(0.01)


def _sync(seed: Seed, timeout: float = 1.0) -> None:
    """Until each box's address watch has logged the VIP event that matches what the box
    holds now (``ip monitor`` writes an event a moment after the kernel shows it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(bool(events and events[-1].added) == seed.lab.box(name).holds(VIP)
               for name, watch in seed.watch.items()
               for events in [watch.events(VIP)]):
            return
        time.sleep(0.01)


def _held_since(seed: Seed, want: Box, since: float) -> float:
    """Wall time from which ``want`` alone has held the VIP (it does now): its last add and
    the others' last delete after ``since``."""
    _sync(seed)
    moments = [since]
    for name, watch in seed.watch.items():
        events = watch.events(VIP, since)
        wanted = [e.time for e in events if e.added == (name == want.name)]
        if wanted:
            moments.append(wanted[-1])
    return max(moments)


def _wait_resumed(pinger: Pinger, after: float, step: str) -> float:
    """Wall time of the client's first answer after ``after``."""
    deadline = time.monotonic() + RESUME_TIMEOUT
    while time.monotonic() < deadline:
        for when, _ in pinger.report().replies:
            if when > after:
                return when
        time.sleep(0.02)
    raise StepFailed(f"{step}: the client got no answer within {RESUME_TIMEOUT}s")


def longest_silence(replies: list[float], start: float, end: float) -> float:
    """The longest time between two consecutive answers, for silences that end after
    ``start`` and begin before ``end`` (not clipped: the client saw all of it)."""
    times = sorted(replies)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b > start and a < end]
    return max(gaps, default=0.0)


def run_rep(seed: Seed, variant: Variant, master_kind: Daemon, backup_kind: Daemon,
            log: list[str]) -> dict:
    """One repetition; returns the metrics (seconds; None where a step failed) and marks."""
    down = master_down_interval(variant.advert_int, BACKUP_PRIO, variant.version)
    out: dict = {m: None for m in METRICS}
    marks: dict[str, float] = {}
    running: dict[str, Spawned] = {}
    pinger: Pinger | None = None
    try:
        daemons.install_config(seed.master, variant.master_conf())
        daemons.install_config(seed.backup, variant.backup_conf())
        _wait_holders(seed, [], 5, "before start")
        t0 = marks["start"] = time.time()
        running["master"] = daemons.start(seed.master, master_kind)
        running["backup"] = daemons.start(seed.backup, backup_kind)
        _wait_holders(seed, [seed.master], down + 10, "start")
        out["start"] = _held_since(seed, seed.master, t0) - t0

        pinger = Pinger(seed.client, VIP)
        time.sleep(max(0.5, 2 * variant.advert_int))  # steady: answers flowing, ARP learnt
        _wait_resumed(pinger, time.time() - 0.2, "after start, VIP on the master")

        t1 = marks["pull"] = time.time()
        seed.master.pull_cable()
        _wait_holders_any(seed, seed.backup, down + 4)
        _sync(seed)
        got = seed.watch["backup"].first(VIP, True, t1)
        out["pull"] = None if got is None else got - t1
        back = marks["pull_back"] = _wait_resumed(pinger, got or t1, "cable pull")
        out["pull_outage"] = longest_silence([t for t, _ in pinger.report().replies], t1, back)
        time.sleep(0.2)

        t2 = marks["replug"] = time.time()
        seed.master.replug_cable()
        _wait_holders(seed, [seed.master], down + 4, "replug")
        out["replug"] = _held_since(seed, seed.master, t2) - t2
        back = _wait_resumed(pinger, out["replug"] + t2, "replug")
        out["replug_outage"] = longest_silence([t for t, _ in pinger.report().replies], t2, back)
        time.sleep(max(0.5, 3 * variant.advert_int))

        t3 = marks["stop"] = time.time()
        code = running.pop("master").stop(timeout=10)
        if code != 0:
            log.append(f"master's {master_kind.value} exited {code} on SIGTERM")
        _wait_holders(seed, [seed.backup], down + 4, "graceful stop")
        _sync(seed)
        got = seed.watch["backup"].first(VIP, True, t3)
        out["stop"] = None if got is None else got - t3
        back = _wait_resumed(pinger, got or t3, "graceful stop")
        out["stop_outage"] = longest_silence([t for t, _ in pinger.report().replies], t3, back)
    except StepFailed as exc:
        log.append(f"{variant.key} {master_kind.value}/{backup_kind.value}: {exc}")
    finally:
        if pinger is not None:
            pinger.stop()
        for proc in running.values():
            proc.stop(timeout=10)
        seed.master.replug_cable()
        _clean(seed, log)
    out["marks"] = marks
    out["master_down"] = down
    out["skew"] = skew_time(variant.advert_int, BACKUP_PRIO, variant.version)
    return out


def _wait_holders_any(seed: Seed, box: Box, timeout: float) -> None:
    """Until ``box`` holds the VIP (the master, cable pulled, may still have it)."""
    deadline = time.monotonic() + timeout
    while not box.holds(VIP):
        if time.monotonic() > deadline:
            raise StepFailed(f"{box.name} did not take the VIP within {timeout:.1f}s")
        time.sleep(0.01)


def _clean(seed: Seed, log: list[str]) -> None:
    """No daemon and no VIP left on the VRRP boxes."""
    for box in (seed.master, seed.backup):
        for proc in box.spawned:
            if proc.alive() and proc.name != "ipmon":
                proc.stop(timeout=5)
        if box.holds(VIP):
            log.append(f"{box.name}: VIP left behind after its daemon stopped; removed")
            box.run(["ip", "addr", "del", f"{VIP}/32", "dev", "eth0"], check=False)
    time.sleep(0.1)


def wire_times(capture: Capture, reps: list[dict], master_ip: str, backup_ip: str) -> None:
    """Fill ``pull_wire``/``stop_wire`` of each repetition from the switch's capture."""
    packets = capture.packets()
    for rep in reps:
        marks = rep.get("marks", {})
        for step, key in (("pull", "pull_wire"), ("stop", "stop_wire")):
            at = marks.get(step)
            if at is None or rep.get(step) is None:
                continue
            before = [p for p in packets if p.src == master_ip and p.time <= at + 0.005]
            if step == "stop":
                # the priority-0 advert (byte 2 of VRRP is the priority) the stop sends
                before = [p for p in packets if p.src == master_ip and p.time >= at
                          and len(p.payload) > 2 and p.payload[2] == 0][:1]
            after = [p for p in packets if p.src == backup_ip and p.time > at]
            if before and after:
                rep[key] = after[0].time - before[-1].time
                if step == "pull" and marks.get("pull_back") is not None:
                    # phase-free: the client's outage counted from the master's last advert
                    rep["pull_outage_wire"] = marks["pull_back"] - before[-1].time


def run_pairs(seed: Seed, variant: Variant, pairs: list[tuple[Daemon, Daemon]], reps: int,
              log: list[str], echo=print) -> dict[str, list[dict]]:
    """``reps`` repetitions of ``variant`` for each (master, backup) daemon pair, interleaved
    (ours, theirs, ours, ...) so a slow moment of the machine does not hit one side only."""
    results: dict[str, list[dict]] = {pair_key(m, b): [] for m, b in pairs}
    capture = seed.lab.capture()
    try:
        for rep in range(reps):
            for m, b in pairs:
                got = run_rep(seed, variant, m, b, log)
                results[pair_key(m, b)].append(got)
                echo(f"  {variant.key:<12} {pair_key(m, b):<24} rep {rep + 1}: " + ", ".join(
                    f"{k}={got[k]:.3f}" if got.get(k) is not None else f"{k}=-"
                    for k in ("start", "pull", "pull_outage", "replug", "stop", "stop_outage")))
    finally:
        capture.stop()
    for m, b in pairs:
        wire_times(capture, results[pair_key(m, b)], seed.master.ip, seed.backup.ip)
    return results


def pair_key(master: Daemon, backup: Daemon) -> str:
    """``ours`` / ``keepalived`` when both boxes run the same daemon, else ``M=..,B=..``."""
    short = {Daemon.ASTLINUX_HA: "ours", Daemon.KEEPALIVED: "keepalived"}
    if master == backup:
        return short[master]
    return f"M={short[master]},B={short[backup]}"
