"""Row 3: how regular the master's adverts are on the wire, idle and with every core busy.

The seed pair at v3 / 50 ms (unicast) runs on the seed boxes; once the master holds the VIP,
the switch captures for ``seconds``. From the intervals between the master's adverts:
lateness, ``max(0, interval − 50 ms)`` (what brings a backup closer to its master-down
interval; the flood row of the long run counts it the same way), and the jitter
``|interval − 50 ms|``, early adverts included. "Busy": one busy-loop process per core, each
pinned to its core, at nice 0, outside the boxes, for the whole capture: the daemon has to
win a core from a hog that never sleeps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from lab import Daemon, daemons
from lab.stats import intervals, jitter, percentile

from .configs import VARIANT
from .failover import Seed, StepFailed, _clean, _wait_holders

VARIANT_KEY = "v3-50ms-uni"
LOADS = ("idle", "busy")
BUSY_CODE = ("import sys,time\nend=time.monotonic()+float(sys.argv[1])\n"
             "while time.monotonic()<end: pass\n")


def _hog_setup(cpu: int):
    def setup() -> None:
        # nice 0 whatever the bench runs at: the hog competes as an ordinary process would.
        os.setpriority(os.PRIO_PROCESS, 0, 0)
        os.sched_setaffinity(0, {cpu})
    return setup


def busy(seconds: float) -> list[subprocess.Popen]:
    """One busy loop on each core this process may use, ending by itself after ``seconds``."""
    return [subprocess.Popen([sys.executable, "-c", BUSY_CODE, f"{seconds:.1f}"],
                             preexec_fn=_hog_setup(cpu))
            for cpu in sorted(os.sched_getaffinity(0))]


def lateness(times: list[float], nominal: float) -> dict[str, float]:
    """p50, p99 and max of ``max(0, interval − nominal)`` in ms."""
    late = [max(0.0, g - nominal) * 1000.0 for g in intervals(times)]
    if not late:
        raise ValueError("need at least two adverts")
    return {"late_p50_ms": percentile(late, 50), "late_p99_ms": percentile(late, 99),
            "late_max_ms": max(late)}


def measure(seed: Seed, kind: Daemon, loaded: bool, seconds: float, log: list[str]) -> dict:
    """Capture ``seconds`` of the master's adverts; lateness and jitter summaries (ms)."""
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
        result.update(lateness(times, variant.advert_int))
        result["adverts"] = len(times)
        result["hogs"] = len(loops)
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


def run(seed: Seed, seconds: float, log: list[str], echo=print) -> dict:
    """{"idle"|"busy": {"ours"|"keepalived": summary}}, the two daemons interleaved, and
    "cores": how many hogs "busy" ran."""
    out: dict = {load: {} for load in LOADS}
    out["cores"] = len(os.sched_getaffinity(0))
    for load in LOADS:
        for kind, name in ((Daemon.ASTLINUX_HA, "ours"), (Daemon.KEEPALIVED, "keepalived")):
            got = measure(seed, kind, load == "busy", seconds, log)
            out[load][name] = got
            if got:
                echo(f"  adverts {load:<4} {name:<10} late p99={got['late_p99_ms']:.2f}ms "
                     f"max={got['late_max_ms']:.2f}ms; |dev| p50={got['p50_ms']:.2f}ms "
                     f"p99={got['p99_ms']:.2f}ms ({got['samples']} intervals)")
    return out
