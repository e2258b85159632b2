"""``python -m bench`` (``make bench``): every row, ours against keepalived, in one lab run.

Prints a Markdown table and writes it, the raw numbers (JSON) and the client-outage plot (PNG)
to bench/results/<date>.{md,json,png}. Default: 3 repetitions and the long run, ~15 minutes on
2 cores; ``--quick``: 1 repetition, shorter windows, 20 pulls, ~6 minutes. ``--only`` picks
sections.
Needs root (the lab's namespaces); everything it starts stops by itself or at lab teardown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from lab import Daemon, Lab
from lab.stats import master_down_interval

from . import config_parse, jitter, long_run, scale
from .configs import VARIANTS
from .failover import Seed, run_pairs
from .plot import outage_plot
from .render import render

SECTIONS = ("failover", "mixed", "jitter", "scale", "config", "longrun")
RESULTS = Path(__file__).resolve().parent / "results"
MIXED_VARIANTS = ("v2-1s-uni", "v3-50ms-uni")
OURS, THEIRS = Daemon.ASTLINUX_HA, Daemon.KEEPALIVED


def machine() -> dict:
    """Where the numbers come from."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        ka = subprocess.run(["keepalived", "--version"], capture_output=True, text=True,
                            timeout=10)
        ka_version = (ka.stderr or ka.stdout).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        ka_version = "keepalived: not found"
    info = {"host": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
            "kernel": platform.release(), "python": platform.python_version(),
            "keepalived": ka_version}
    info["summary"] = (f"{cpu}, {info['cores']} cores, Linux {info['kernel']}, "
                       f"Python {info['python']}, {ka_version}")
    return info


def parse_in_subprocess() -> dict:
    """config_parse.run() in a fresh interpreter: this process's heap (scapy, captures) makes
    the garbage collector, and so the parse, several times slower than a daemon's start."""
    code = "import json; from bench import config_parse; print(json.dumps(config_parse.run()))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, timeout=300, check=True)
    return json.loads(proc.stdout)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="1 repetition, 5 s windows, seed variants only in mixed pairs")
    p.add_argument("--reps", type=int, help="repetitions (default 3, --quick 1)")
    p.add_argument("--only", action="append", choices=SECTIONS,
                   help="run only this section (repeatable)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench: needs root (network namespaces)", file=sys.stderr)
        return 2
    reps = args.reps or (1 if args.quick else 3)
    sections = args.only or list(SECTIONS)
    settings = {
        "reps": reps,
        "mixed_reps": reps,
        "mixed_variants": list(MIXED_VARIANTS[:1] if args.quick else MIXED_VARIANTS),
        "jitter_seconds": 5.0 if args.quick else 10.0,
        "scale_sizes": [1, 50, 200],
        # CPU is counted in 10 ms ticks: 30 s puts a tick at 0.03 % of a core, fine enough to
        # judge ours against keepalived's ~0.6 % at 200 instances.
        "scale_window_s": 5.0 if args.quick else 30.0,
        "scale_start_reps": reps,
        "pulls": 20 if args.quick else 200,
        "warmup": 10 if args.quick else 50,
        "sections": sections,
        "quick": args.quick,
    }
    started = time.time()
    stamp = datetime.now().strftime("%Y-%m-%dT%H%M%S")
    results: dict = {"date": datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": machine(),
                     "settings": settings, "log": []}
    log: list[str] = results["log"]
    took: dict[str, float] = results.setdefault("section_s", {})

    def echo(line: str) -> None:
        print(line, flush=True)

    def timed(section: str, title: str, measure) -> None:
        if section in sections:
            echo(f"== {title}")
            t0 = time.monotonic()
            results[section] = measure()
            took[section] = round(time.monotonic() - t0, 1)
            echo(f"   ({section}: {took[section]:.0f} s)")

    def scale_section() -> dict:
        out = scale.run(seed, settings["scale_sizes"], settings["scale_window_s"], reps, log,
                        echo)
        out["master_down"] = master_down_interval(1.0, 100, 2)
        return out

    with Lab() as lab:
        seed = Seed.build(lab)
        timed("failover", "rows 1: ours vs keepalived, same daemon on both boxes", lambda: {
            v.key: run_pairs(seed, v, [(OURS, OURS), (THEIRS, THEIRS)], reps, log, echo)
            for v in VARIANTS})
        timed("mixed", "rows 2: mixed pairs", lambda: {
            key: run_pairs(seed, next(v for v in VARIANTS if v.key == key),
                           [(OURS, THEIRS), (THEIRS, OURS)], reps, log, echo)
            for key in settings["mixed_variants"]})
        timed("jitter", "row 3: advert lateness and jitter on the wire, idle and all cores busy",
              lambda: jitter.run(seed, settings["jitter_seconds"], log, echo))
        timed("scale", "row 4: cost at scale", scale_section)
        timed("config", "row 5: config parse, 255 instances x 20 VIPs, and -t on 5000", lambda: {
            "parse": parse_in_subprocess(), "cli": config_parse.run_cli(seed.master, reps),
            "cli_large": config_parse.run_cli_large(seed.master, max(reps, 3))})
    # The long run builds its own labs: two of our daemons for the pulls, then per daemon
    # the seed pair and an attacker for the hostile kinds and the flood.
    timed("longrun", "long run: cable pulls, hostile kinds and the flood, ours and keepalived",
          lambda: long_run.run(pulls=settings["pulls"], warmup=settings["warmup"]))
    results["duration_s"] = round(time.time() - started, 1)
    # Other work on the machine skews CPU and timing rows: say how busy it was.
    results["machine"]["loadavg_end"] = os.getloadavg()
    text = render(results)
    results["table"] = text
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.out / stamp
    base.with_suffix(".md").write_text(text)
    base.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    plot = outage_plot(results, base.with_suffix(".png"))
    print()
    print(text)
    for line in log:
        print(f"note: {line}")
    print(f"took {results['duration_s']:.0f} s; wrote {base}.md, {base}.json"
          + (f", {plot}" if plot else " (no plot: matplotlib missing or no failover rows)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
