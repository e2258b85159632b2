"""The long run (issue 9), in ``make bench``, not in CI: cable pulls between two of our
daemons, then the hostile kinds and the flood against ours and against keepalived, side by side.

``python -m bench.long_run`` (root) alone: defaults are a short run (~3 minutes); the bench's
is ``--pulls 200`` (~4 minutes with the rest). It prints the table rows, the per-kind table and
one JSON document (``--json PATH`` writes it too).

* Cable pulls: the master's cable is pulled until the backup holds the VIP, then plugged back
  until the master holds it again, ``--pulls`` times, with v3 adverts every ``--advert-int``
  seconds so each cycle takes well under a second of protocol time. Every failover must end
  with exactly the expected holder; RSS, open fds and threads of both daemons are sampled
  after ``--warmup`` cycles (default 50: failovers checked, growth not counted) and after
  the ``--pulls`` measured cycles that follow (psutil). The warm-up lets the allocator
  reach its working size (2026-11-30, master: +52 KiB over the 50 warm-up pulls, +52 KiB
  over the 200 measured ones); the growth since the first cycle is reported too.
* Hostile kinds (lab.attack.measure_kinds): the seed's exact config (v2, 1 s, unicast,
  vrrp_check_unicast_src) on both boxes, an attacker box sends ``--kinds-count`` packets of
  each kind of lab.hostile at the master, the backup and 224.0.0.18, one kind at a time;
  per kind: did the VIP move, did anyone change state, did both live, which of the daemon's
  own refusal counters (SIGUSR2 stats) grew, how many log lines it wrote.
* Flood: then, in the same lab, ``--rate`` mixed junk and forged adverts per second at the
  master for ``--flood-seconds``; did the VIP move, how late were the master's adverts on the
  wire, how much CPU did the daemon use.
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

from lab import Daemon, Lab, LabError, attack, daemons, hostile

from .render import table

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


def hostile_run(daemon: Daemon, seconds: float, rate: float, kinds_count: int = 10) -> dict:
    """The seed pair running ``daemon``, an attacker box: first every hostile kind in turn at
    both boxes and 224.0.0.18 (``kinds_count`` of each, 0 to skip), then the flood at the
    master (``seconds`` 0 to skip)."""
    with Lab() as lab:
        master, backup, _client = lab.add_seed_boxes()
        pm = _start(master, daemon, seed_conf("master"))
        pb = _start(backup, daemon, seed_conf("backup"))
        lab.wait_for_holders(VIP, ["master"], 15)
        time.sleep(2)  # the backup has heard a few adverts
        attacker = lab.add_box(*ATTACKER)
        result: dict = {"daemon": daemon.value}
        if kinds_count:
            result["kinds"] = attack.measure_kinds(
                lab, {"master": (master, pm), "backup": (backup, pb)}, attacker, daemon,
                vip=VIP, count=kinds_count)
        if seconds:
            flood = attack.measure_flood(lab, master, backup, attacker, pm.pid, vip=VIP,
                                         advert_int=1.0, seconds=seconds, rate=rate)
            result["flood"] = {**flood, "daemon": daemon.value, "master_alive": pm.alive()}
    return result


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _fmt(value, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{unit}" if isinstance(value, float) else (
        f"{value}{unit}")


def _kind_cell(row: dict) -> str:
    """What one daemon did about one kind: held or not, and what it counted where."""
    boxes = row["boxes"]
    trouble = []
    if row["vip_moved"]:
        trouble.append("**VIP moved**")
    changes = sum(b["state_changes"] for b in boxes.values())
    if changes:
        trouble.append(f"**{changes} state changes**")
    trouble += [f"**{name} died**" for name, b in boxes.items() if not b["alive"]]
    counted = [f"{name[0]}: " + ", ".join(f"{k} +{v}" for k, v in sorted(b["counted"].items()))
               for name, b in boxes.items() if b["counted"]]
    logged = "/".join(str(b["log_lines"]) for b in boxes.values())
    return "; ".join([", ".join(trouble) or "held",
                      "counted " + "; ".join(counted) if counted else "not counted",
                      f"{logged} log lines"])


def _kinds_held(rows: list[dict]) -> tuple[int, int]:
    """(kinds that moved nothing and killed nobody, kinds counted in the stats)."""
    held = sum(not r["vip_moved"] and all(
        b["alive"] and not b["state_changes"] for b in r["boxes"].values()) for r in rows)
    counted = sum(any(b["counted"] for b in r["boxes"].values()) for r in rows)
    return held, counted


def table_rows(results: dict) -> list[list[str]]:
    """Rows for the main table (Scenario, Measure, Target, ours, keepalived, Met)."""
    rows: list[list[str]] = []
    pulls = results.get("cable_pulls")
    if pulls:
        label = (f"long run: {pulls['pulls']} cable pulls after {pulls['warmup']} warm-up, "
                 f"v3 {pulls['advert_int'] * 1000:g} ms, ours on both boxes")
        g = pulls["growth"]
        wrong = len(pulls["failures"])
        rows.append([label, f"wrong failovers of {pulls['failovers']}", "0", str(wrong), "-",
                     "yes" if wrong == 0 else "**no**"])
        rss = max(b["rss_kb"] for b in g.values())
        t = pulls["growth_since_first"]
        rows.append([label, "RSS growth, master / backup (since the first pull)", "< 1 MiB",
                     f"{g['master']['rss_kb']} / {g['backup']['rss_kb']} KiB "
                     f"({t['master']['rss_kb']} / {t['backup']['rss_kb']} KiB)", "-",
                     "yes" if rss < 1024 else "**no**"])
        steady = all(b["fds"] == 0 and b["threads"] == 0 for b in g.values())
        rows.append([label, "open fds and threads, change, master / backup", "0",
                     f"fds {g['master']['fds']:+d} / {g['backup']['fds']:+d}, threads "
                     f"{g['master']['threads']:+d} / {g['backup']['threads']:+d}", "-",
                     "yes" if steady else "**no**"])
    by = _by_daemon(results)
    ours, theirs = by.get(Daemon.ASTLINUX_HA.value, {}), by.get(Daemon.KEEPALIVED.value, {})
    if ours.get("kinds") or theirs.get("kinds"):
        n = len(hostile.KINDS)
        label = "seed config, hostile packets of 11 kinds at master, backup, 224.0.0.18"
        h_o, c_o = _kinds_held(ours.get("kinds", []))
        h_t, c_t = _kinds_held(theirs.get("kinds", []))
        have_o, have_t = bool(ours.get("kinds")), bool(theirs.get("kinds"))
        rows.append([label, "kinds with no state change, VIP kept, both alive", f"{n} of {n}",
                     f"{h_o} of {n}" if have_o else "-", f"{h_t} of {n}" if have_t else "-",
                     ("yes" if h_o == n else "**no**") if have_o else "-"])
        rows.append([label, "kinds counted in the daemon's stats (SIGUSR2)", f"{n} of {n}",
                     f"{c_o} of {n}" if have_o else "-", f"{c_t} of {n}" if have_t else "-",
                     ("yes" if c_o == n else "**no**") if have_o else "-"])
    fo, ft = ours.get("floods", []), theirs.get("floods", [])
    if fo or ft:
        sent = (fo or ft)[0]["flood"]
        label = (f"seed config, flood at the master: {sent['sent']} packets in "
                 f"{sent['seconds']:.0f} s")
        moved_o = sum(r["vip_moved"] for r in fo)
        rows.append([label, "runs where the VIP moved", "0",
                     f"{moved_o} of {len(fo)}" if fo else "-",
                     f"{sum(r['vip_moved'] for r in ft)} of {len(ft)}" if ft else "-",
                     ("yes" if moved_o == 0 else "**no**") if fo else "-"])
        p99 = [r["lateness_ms"]["p99"] for r in fo]
        rows.append([label, "master's adverts on the wire: lateness p99 (max)", "< 20 ms",
                     _late(fo), _late(ft),
                     ("yes" if p99 and all(v is not None and v < 20 for v in p99) else "**no**")
                     if fo else "-"])
        rows.append([label, "daemon CPU, % of one core", "",
                     ", ".join(_fmt(r["cpu_percent"], " %") for r in fo) or "-",
                     ", ".join(_fmt(r["cpu_percent"], " %") for r in ft) or "-", "-"])
    return rows


def _late(floods: list[dict]) -> str:
    if not floods:
        return "-"
    return ", ".join(f"{_fmt(late['p99'], ' ms')} ({_fmt(late['max'], ' ms')})"
                     for late in (r["lateness_ms"] for r in floods))


def _by_daemon(results: dict) -> dict[str, dict]:
    """Per daemon: its hostile-kind rows and its flood runs."""
    by: dict[str, dict] = {}
    for run_ in results.get("hostile", []):
        d = by.setdefault(run_["daemon"], {"kinds": [], "floods": []})
        if run_.get("kinds") and not d["kinds"]:
            d["kinds"] = run_["kinds"]
        if run_.get("flood"):
            d["floods"].append(run_["flood"])
    return by


def render(results: dict) -> str:
    """Markdown: every hostile kind, astlinux-ha beside keepalived."""
    by = _by_daemon(results)
    ours = {r["kind"]: r for r in by.get(Daemon.ASTLINUX_HA.value, {}).get("kinds", [])}
    theirs = {r["kind"]: r for r in by.get(Daemon.KEEPALIVED.value, {}).get("kinds", [])}
    if not ours and not theirs:
        return ""
    count = next(iter((ours or theirs).values()))["sent"]
    lines = [f"Hostile kinds, {count} packets of each (a third each at the master, the backup "
             "and 224.0.0.18), seed config on both boxes: what each daemon did. m/b = master/"
             "backup; counters that grew by at least half the packets aimed at that box.", "",
             "| kind | astlinux-ha | keepalived |", "|---|---|---|"]
    for kind in hostile.KINDS:
        a, b = ours.get(kind), theirs.get(kind)
        lines.append(f"| {kind} | {_kind_cell(a) if a else '-'} | {_kind_cell(b) if b else '-'} |")
    return "\n".join(lines)


def run(pulls: int = 20, advert_int: float = 0.1, flood_seconds: float = 10.0,
        rate: float = 10_000, reps: int = 1,
        daemons_: tuple[Daemon, ...] = (Daemon.ASTLINUX_HA, Daemon.KEEPALIVED),
        warmup: int = 50, kinds_count: int = 10) -> dict:
    """Everything, in order; the raw results. The hostile kinds run in the first repetition."""
    results: dict = {}
    if pulls:
        results["cable_pulls"] = cable_pulls(pulls, advert_int, warmup=warmup)
    results["hostile"] = [hostile_run(d, flood_seconds, rate, kinds_count if rep == 0 else 0)
                          for rep in range(reps) for d in daemons_]
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.long_run",
                                description=__doc__.splitlines()[0])
    p.add_argument("--pulls", type=int, default=20, help="cable pull/replug cycles (200: full)")
    p.add_argument("--warmup", type=int, default=50,
                   help="pull/replug cycles before the measured ones (growth not counted)")
    p.add_argument("--advert-int", type=float, default=0.1)
    p.add_argument("--flood-seconds", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=10_000)
    p.add_argument("--reps", type=int, default=1, help="flood repetitions per daemon")
    p.add_argument("--kinds-count", type=int, default=10,
                   help="packets of each hostile kind per target (0: skip the kinds)")
    p.add_argument("--ours-only", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench.long_run: needs root (network namespaces)", file=sys.stderr)
        return 2
    which = (Daemon.ASTLINUX_HA,) if args.ours_only else (Daemon.ASTLINUX_HA, Daemon.KEEPALIVED)
    results = run(args.pulls, args.advert_int, args.flood_seconds, args.rate, args.reps, which,
                  warmup=args.warmup, kinds_count=args.kinds_count)
    print(table(table_rows(results)))
    print()
    print(render(results))
    text = json.dumps(results, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    pulls_ok = results.get("cable_pulls", {}).get("ok", True)
    ours = _by_daemon(results).get(Daemon.ASTLINUX_HA.value, {})
    held, _counted = _kinds_held(ours.get("kinds", []))
    ours_ok = (not any(r["vip_moved"] for r in ours.get("floods", []))
               and held == len(ours.get("kinds", [])))
    return 0 if pulls_ok and ours_ok else 1


if __name__ == "__main__":
    sys.exit(main())
