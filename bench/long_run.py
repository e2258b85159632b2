"""The long run (issue 9), not in CI: cable pulls between two of our daemons, then the hostile
flood against ours and against keepalived, side by side.

``python -m bench.long_run`` (root). Defaults are a short run (~3 minutes); the issue's full
run is ``--pulls 200 --flood-seconds 10 --reps 3`` (~15 minutes). It prints a Markdown table
and one JSON document (``--json PATH`` writes it too).

* Cable pulls: the master's cable is pulled until the backup holds the VIP, then plugged back
  until the master holds it again, ``--pulls`` times, with v3 adverts every ``--advert-int``
  seconds so each cycle takes well under a second of protocol time. Every failover must end
  with exactly the expected holder; RSS, open fds and threads of both daemons are sampled
  after ``--warmup`` cycles (default 100: failovers checked, growth not counted) and after
  the ``--pulls`` measured cycles that follow (psutil). The warm-up is there because the
  heap grows to its working size over the first failovers and then stays (master, 600
  pulls: +710 KiB by pull 100, +120 KiB from 100 to 600, nothing from 300 to 600); the
  growth since the first cycle, warm-up included, is reported too.
* Flood: the seed's exact config (v2, 1 s, unicast, vrrp_check_unicast_src), an attacker box
  sends ``--rate`` mixed junk and forged adverts per second at the master for
  ``--flood-seconds`` (bench.hostile); did the VIP move, how late were the master's adverts on
  the wire, how much CPU did the daemon use.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import psutil

from astlinux_ha.lab import Daemon, Lab, LabError, daemons

from . import hostile

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "etc" / "keepalived"
VIP = "10.10.50.244"
ATTACKER = ("attacker", "10.10.50.70/24")


def seed_conf(box: str, advert_int: float | None = None) -> str:
    text = (SEED / f"keepalived.conf.{box}").read_text()
    if advert_int is not None:
        text, n = re.subn(r"(?m)^(\s*)advert_int 1\s*$",
                          rf"\g<1>advert_int {advert_int:g}\n\g<1>version 3", text)
        assert n == 1
    return text


def _start(box, daemon: Daemon, text: str):
    daemons.install_config(box, text)
    proc = daemons.start(box, daemon)
    if not daemons.wait_ready(proc, 20):
        raise LabError(f"{box.name}: {daemon.value} did not start:\n{proc.log_text()[-2000:]}")
    return proc


def _resources(pid: int) -> dict:
    proc = psutil.Process(pid)
    return {"rss_kb": proc.memory_info().rss // 1024, "fds": proc.num_fds(),
            "threads": proc.num_threads()}


def cable_pulls(pulls: int, advert_int: float, timeout: float = 10.0, warmup: int = 0) -> dict:
    """``warmup`` + ``pulls`` pull/replug cycles of the master's cable between two of our
    daemons; resource growth is counted over the last ``pulls``."""
    with Lab() as lab:
        master, backup, _client = lab.add_seed_boxes()
        pm = _start(master, Daemon.ASTLINUX_HA, seed_conf("master", advert_int))
        pb = _start(backup, Daemon.ASTLINUX_HA, seed_conf("backup", advert_int))
        lab.wait_for_holders(VIP, ["master"], timeout)
        failures: list[str] = []
        takeover, giveback = [], []
        first: dict[str, dict] = {}
        base: dict[str, dict] = {}
        started = time.monotonic()
        for i in range(warmup + pulls):
            for action, want, times in ((master.pull_cable, ["backup"], takeover),
                                        (master.replug_cable, ["master"], giveback)):
                action()
                try:
                    times.append(lab.wait_for_holders(VIP, want, timeout))
                except LabError as exc:
                    failures.append(f"cycle {i}: {exc}")
            if i == 0:
                time.sleep(advert_int * 4)
                first = {"master": _resources(pm.pid), "backup": _resources(pb.pid)}
            if i == max(warmup, 1) - 1:
                if i > 0:
                    time.sleep(advert_int * 4)
                base = first if i == 0 else {"master": _resources(pm.pid),
                                             "backup": _resources(pb.pid)}
        time.sleep(advert_int * 4)
        last = {"master": _resources(pm.pid), "backup": _resources(pb.pid)}
        took = time.monotonic() - started
        alive = pm.alive() and pb.alive()
    growth = {box: {k: last[box][k] - base[box][k] for k in last[box]} for box in last}
    total = {box: {k: last[box][k] - first[box][k] for k in last[box]} for box in last}
    return {
        "pulls": pulls, "warmup": warmup, "advert_int": advert_int, "seconds": round(took, 1),
        "failovers": 2 * (warmup + pulls), "failures": failures, "alive": alive,
        "takeover_s": {"median": _median(takeover), "max": max(takeover, default=None)},
        "giveback_s": {"median": _median(giveback), "max": max(giveback, default=None)},
        "after_first": first, "after_warmup": base, "after_last": last,
        "growth": growth, "growth_since_first": total,
        "ok": not failures and alive and all(
            g["rss_kb"] < 1024 and g["fds"] == 0 and g["threads"] == 0
            for g in growth.values()),
    }


def flood(daemon: Daemon, seconds: float, rate: float) -> dict:
    """The seed pair running ``daemon``, flooded at the master from an attacker box."""
    with Lab() as lab:
        master, backup, _client = lab.add_seed_boxes()
        pm = _start(master, daemon, seed_conf("master"))
        _start(backup, daemon, seed_conf("backup"))
        lab.wait_for_holders(VIP, ["master"], 15)
        time.sleep(2)  # the backup has heard a few adverts
        attacker = lab.add_box(*ATTACKER)
        result = hostile.measure_flood(lab, master, backup, attacker, pm.pid, vip=VIP,
                                       advert_int=1.0, seconds=seconds, rate=rate)
        result["daemon"] = daemon.value
        result["master_alive"] = pm.alive()
    return result


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _fmt(value, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{unit}" if isinstance(value, float) else (
        f"{value}{unit}")


def render(results: dict) -> str:
    """Markdown: the cable-pull row, then one flood row per daemon and repetition."""
    lines = ["| long run | result |", "|---|---|"]
    pulls = results.get("cable_pulls")
    if pulls:
        g, t = pulls["growth"], pulls["growth_since_first"]
        lines.append(
            f"| {pulls['warmup']} warm-up + {pulls['pulls']} measured cable pulls/replugs "
            f"({pulls['failovers']} failovers, {pulls['seconds']} s) | "
            f"{len(pulls['failures'])} wrong; over the {pulls['pulls']} measured pulls: RSS "
            f"growth {g['master']['rss_kb']}/{g['backup']['rss_kb']} KiB (since the first "
            f"pull, warm-up included: {t['master']['rss_kb']}/{t['backup']['rss_kb']} KiB), fds "
            f"{g['master']['fds']:+d}/{g['backup']['fds']:+d}, threads "
            f"{g['master']['threads']:+d}/{g['backup']['threads']:+d} (master/backup) |")
    floods = results.get("flood", [])
    if floods:
        lines += ["", "| flood at the master | VIP moved | adverts p99 late | max late | CPU |",
                  "|---|---|---|---|---|"]
        for r in floods:
            late = r["lateness_ms"]
            moved = "**yes** " + ", ".join(f"{k}: {v}" for k, v in r["holders"].items()) if (
                r["vip_moved"]) else "no"
            lines.append(f"| {r['daemon']}, {r['flood']['sent']} pkts in "
                         f"{r['flood']['seconds']} s | {moved} | {_fmt(late['p99'], ' ms')} | "
                         f"{_fmt(late['max'], ' ms')} | {_fmt(r['cpu_percent'], ' %')} |")
    return "\n".join(lines)


def run(pulls: int = 20, advert_int: float = 0.1, flood_seconds: float = 10.0,
        rate: float = 10_000, reps: int = 1,
        daemons_: tuple[Daemon, ...] = (Daemon.ASTLINUX_HA, Daemon.KEEPALIVED),
        warmup: int = 100) -> dict:
    """Everything, in order; the raw results."""
    results: dict = {}
    if pulls:
        results["cable_pulls"] = cable_pulls(pulls, advert_int, warmup=warmup)
    results["flood"] = [flood(d, flood_seconds, rate) for _ in range(reps) for d in daemons_]
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.long_run",
                                description=__doc__.splitlines()[0])
    p.add_argument("--pulls", type=int, default=20, help="cable pull/replug cycles (200: full)")
    p.add_argument("--warmup", type=int, default=100,
                   help="pull/replug cycles before the measured ones (growth not counted)")
    p.add_argument("--advert-int", type=float, default=0.1)
    p.add_argument("--flood-seconds", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=10_000)
    p.add_argument("--reps", type=int, default=1, help="flood repetitions per daemon")
    p.add_argument("--ours-only", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench.long_run: needs root (network namespaces)", file=sys.stderr)
        return 2
    which = (Daemon.ASTLINUX_HA,) if args.ours_only else (Daemon.ASTLINUX_HA, Daemon.KEEPALIVED)
    results = run(args.pulls, args.advert_int, args.flood_seconds, args.rate, args.reps, which,
                  warmup=args.warmup)
    print(render(results))
    text = json.dumps(results, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    pulls_ok = results.get("cable_pulls", {}).get("ok", True)
    ours_ok = all(not r["vip_moved"] for r in results["flood"]
                  if r["daemon"] == Daemon.ASTLINUX_HA.value)
    return 0 if pulls_ok and ours_ok else 1


if __name__ == "__main__":
    sys.exit(main())
