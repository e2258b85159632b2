"""How long reading a big keepalived.conf takes: 255 instances x 20 VIPs (target < 100 ms).

``run()`` writes the config into a temp dir, parses it several times with
:func:`astlinux_ha.config.check` and returns the median wall time in milliseconds (and the
median CPU time, which other load on the box does not inflate).

``run_hostile()`` (``python -m bench.config_parse --hostile``) times ``-t`` on the configs of
the security audit (issue 13) for both daemons: wall time and peak RSS of each process.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from astlinux_ha.config import check

INSTANCES = 255
VIPS = 20
RUNS = 7
TARGET_MS = 100.0


def generate(instances: int = INSTANCES, vips: int = VIPS) -> str:
    """A config with ``instances`` unicast instances of ``vips`` VIPs each, all valid."""
    parts = [
        "global_defs {\n   router_id BENCH\n   enable_script_security\n"
        "   script_user root root\n   vrrp_check_unicast_src\n}\n"
    ]
    for n in range(1, instances + 1):
        lines = [
            f"vrrp_instance VI_{n} {{",
            "    state BACKUP",
            "    interface eth0",
            f"    virtual_router_id {n}",
            "    advert_int 1",
            "    priority 100",
            "    unicast_src_ip 10.10.50.62",
            "    unicast_peer {",
            "        10.10.50.65",
            "    }",
            "    virtual_ipaddress {",
        ]
        lines += [
            f"        10.{n // 256 + 20}.{n % 256}.{v + 1}/24 dev eth0 label eth0:{v}"
            for v in range(vips)
        ]
        lines += ["    }", "}", ""]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def run(runs: int = RUNS) -> dict[str, object]:
    """Time parsing the generated config; returns the median and the details in ms."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "keepalived.conf"
        path.write_text(generate())
        times = []
        cpu_times = []
        for _ in range(runs):
            start, cpu_start = time.perf_counter(), time.process_time()
            result = check(str(path))
            times.append((time.perf_counter() - start) * 1000)
            cpu_times.append((time.process_time() - cpu_start) * 1000)
        assert result.config is not None and len(result.config.instances) == INSTANCES
        assert not result.problems, result.problems[:3]
    median = statistics.median(times)
    return {
        "benchmark": "config_parse",
        "instances": INSTANCES,
        "vips_per_instance": VIPS,
        "bytes": len(generate()),
        "runs": runs,
        "median_ms": round(median, 2),
        "min_ms": round(min(times), 2),
        # CPU time of this process: what the parse costs, without the waits a busy box adds
        # to the wall time (on a loaded 2-core VM the two differ by 2x).
        "cpu_median_ms": round(statistics.median(cpu_times), 2),
        "target_ms": TARGET_MS,
        "within_target": median < TARGET_MS,
    }


def run_cli(box, runs: int = 3) -> dict[str, object]:
    """``-t`` on the same generated file, in lab ``box``, for both daemons: the wall time of
    the whole command (process start-up included), median and max of ``runs`` (ms)."""
    path = "/tmp/bench-parse.conf"
    box.write(path, generate())
    return _time_check(box, path, runs)


def run_cli_large(box, runs: int = 3) -> dict[str, object]:
    """``-t`` on :func:`bench.configs.check_conf` (20 interfaces × 250 VRIDs = 5000
    instances), both daemons, in lab ``box``, with the 20 interfaces made for the occasion
    (bridges: the lab's kernel may lack the dummy driver) and removed afterwards."""
    from .configs import CHECK_INTERFACES, CHECK_VRIDS, check_conf, check_ifname

    names = [check_ifname(i) for i in range(CHECK_INTERFACES)]
    path = "/tmp/bench-check-large.conf"
    box.write(path, check_conf())
    box.run(" && ".join(f"ip link add {n} type bridge" for n in names))
    try:
        out = _time_check(box, path, runs)
    finally:
        box.run("; ".join(f"ip link del {n}" for n in names), check=False)
    out["instances"] = CHECK_INTERFACES * CHECK_VRIDS
    return out


def _time_check(box, path: str, runs: int) -> dict[str, object]:
    """Wall time of ``-t -f path`` in ``box`` for both daemons, interleaved run by run so
    that other load on the machine falls on both alike; a run that did not exit 0 is kept
    with its exit code and last stderr line (a rejected config is not a fast parse)."""
    import sys

    commands = {
        "ours": [sys.executable, "-m", "astlinux_ha", "-t", "-f", path],
        "keepalived": ["keepalived", "-t", "-f", path],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    codes: dict[str, set[int]] = {name: set() for name in commands}
    errors: dict[str, str] = {}
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            proc = box.run(argv, check=False, timeout=120)
            times[name].append((time.perf_counter() - start) * 1000)
            codes[name].add(proc.returncode)
            if proc.returncode != 0 and proc.stderr.strip():
                errors[name] = proc.stderr.strip().splitlines()[-1]
    out: dict[str, object] = {}
    for name in commands:
        out[name] = {"median_ms": round(statistics.median(times[name]), 1),
                     "max_ms": round(max(times[name]), 1), "runs_ms": times[name],
                     "exit_codes": sorted(codes[name])}
        if name in errors:
            out[name]["error"] = errors[name]
    return out


HOSTILE = {
    # 2**20 candidate paths from one include line
    "include_braces_2^20": "include /nonexistent/" + "{a,b}" * 20 + ".conf\n",
    # one logical line of ~700,000 continued pieces, just under the 2 MiB file cap
    "continued_line_2MiB": "router_id \\\n" + "x\\\n" * ((2 * 1024 * 1024 - 4096) // 3) + "y\n",
}


def _measure(argv: list[str]) -> dict[str, object]:
    """Wall time (ms), peak RSS (KiB) and exit code of one run of ``argv``.

    Through GNU time when it is there: a child forked from this Python process would report
    this process's RSS as its own peak (Linux keeps the pre-exec high-water mark).
    """
    import shutil
    import subprocess

    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    with tempfile.NamedTemporaryFile("r") as report:
        wrapped = [gnu_time, "-q", "-f", "%M", "-o", report.name, *argv] if gnu_time else argv
        start = time.perf_counter()
        proc = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        rss = report.read().strip().splitlines()
    return {
        "ms": round(elapsed * 1000, 1),
        "max_rss_kib": int(rss[-1]) if gnu_time and rss else None,
        "exit": proc.returncode,
    }


def run_hostile() -> dict[str, object]:
    """``-t`` on each HOSTILE config, ours and (if installed) keepalived's, run once each."""
    import shutil
    import sys

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in HOSTILE.items():
            path = Path(tmp) / f"{name}.conf"
            path.write_text(text)
            row = {"ours": _measure([sys.executable, "-m", "astlinux_ha", "-t", "-f", str(path)])}
            if shutil.which("keepalived"):
                row["keepalived"] = _measure(["keepalived", "-t", "-f", str(path)])
            out[name] = row
    return out


if __name__ == "__main__":
    import sys

    print(json.dumps(run_hostile() if "--hostile" in sys.argv else run(), indent=2))
