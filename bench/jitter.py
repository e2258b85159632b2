"""Row 3: how regular the master's adverts are on the wire, idle and with a core kept busy.

The seed pair at v3 / 50 ms (unicast) runs on the seed boxes; once the master holds the VIP,
the switch captures for ``seconds``; the intervals between the master's adverts, minus 50 ms,
are the jitter. "Busy": one bounded busy-loop process per core but one (``nproc - 1``) runs
for the whole capture (on a 2-core machine: the other core is busy).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from lab import Daemon, daemons
from lab.stats import jitter

from .configs import VARIANT
from .failover import Seed, StepFailed, _clean, _wait_holders

VARIANT_KEY = "v3-50ms-uni"
BUSY_CODE = ("import sys,time\nend=time.monotonic()+float(sys.argv[1])\n"
             "while time.monotonic()<end: pass\n")


def busy(seconds: float) -> list[subprocess.Popen]:
    """Start ``nproc - 1`` (at least one) busy loops that end by themselves after ``seconds``."""
    count = max(1, (os.cpu_count() or 2) - 1)
    return [subprocess.Popen([sys.executable, "-c", BUSY_CODE, f"{seconds:.1f}"])
            for _ in range(count)]


def measure(seed: Seed, kind: Daemon, loaded: bool, seconds: float, log: list[str]) -> dict:
    """Capture ``seconds`` of the master's adverts; the jitter summary (ms)."""
    variant = VARIANT[VARIANT_KEY]
    daemons.install_config(seed.master, variant.master_conf())
    daemons.install_config(seed.backup, variant.backup_conf())
    procs = [daemons.start(seed.master, kind), daemons.start(seed.backup, kind)]
    loops: list[subprocess.Popen] = []
    try:
        _wait_holders(seed, [seed.master], 10)
        time.sleep(1.0)  # past the start-up GARPs and log lines
        if loaded:
            loops = busy(seconds + 1.5)
            time.sleep(0.5)
        cap = seed.lab.capture()
        time.sleep(seconds)
        cap.stop()
        times = [p.time for p in cap.packets() if p.src == seed.master.ip]
        result = jitter(times, variant.advert_int)
        result["adverts"] = len(times)
        return result
    except (StepFailed, ValueError) as exc:
        log.append(f"jitter {kind.value} {'busy' if loaded else 'idle'}: {exc}")
        return {}
    finally:
        for loop in loops:
            loop.wait(seconds + 10)
        for proc in procs:
            proc.stop(timeout=10)
        _clean(seed, log)


def run(seed: Seed, seconds: float, log: list[str], echo=print) -> dict[str, dict[str, dict]]:
    """{"idle"|"busy": {"ours"|"keepalived": summary}}, the two daemons interleaved."""
    out: dict[str, dict[str, dict]] = {"idle": {}, "busy": {}}
    for load in ("idle", "busy"):
        for kind, name in ((Daemon.ASTLINUX_HA, "ours"), (Daemon.KEEPALIVED, "keepalived")):
            got = measure(seed, kind, load == "busy", seconds, log)
            out[load][name] = got
            if got:
                echo(f"  jitter {load:<4} {name:<10} p50={got['p50_ms']:.2f}ms "
                     f"p99={got['p99_ms']:.2f}ms max={got['max_ms']:.2f}ms "
                     f"({got['samples']} intervals)")
    return out
