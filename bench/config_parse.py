"""How long reading a big keepalived.conf takes: 255 instances x 20 VIPs (target < 100 ms).

``run()`` writes the config into a temp dir, parses it several times with
:func:`astlinux_ha.config.check` and returns the median wall time in milliseconds (and the
median CPU time, which other load on the box does not inflate).
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
    import sys

    path = "/tmp/bench-parse.conf"
    box.write(path, generate())
    commands = {
        "ours": [sys.executable, "-m", "astlinux_ha", "-t", "-f", path],
        "keepalived": ["keepalived", "-t", "-f", path],
    }
    out: dict[str, object] = {}
    for name, argv in commands.items():
        times, codes = [], set()
        for _ in range(runs):
            start = time.perf_counter()
            proc = box.run(argv, check=False, timeout=120)
            times.append((time.perf_counter() - start) * 1000)
            codes.add(proc.returncode)
        out[name] = {"median_ms": round(statistics.median(times), 1),
                     "max_ms": round(max(times), 1), "exit_codes": sorted(codes)}
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
