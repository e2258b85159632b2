"""Issue 9's long run: what keeps the daemon's RSS flat over many failovers."""

from __future__ import annotations

import platform

import pytest

from astlinux_ha import daemon
from bench import long_run


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_mmap_threshold_is_fixed_on_glibc():
    assert daemon.steady_malloc() is True


def _sample(rss: int) -> dict:
    return {"rss_kb": rss, "fds": 10, "threads": 1}


def test_long_run_states_the_warm_up():
    pulls = {
        "pulls": 200, "warmup": 100, "failovers": 600, "seconds": 230.0, "failures": [],
        "growth": {"master": _sample(120), "backup": _sample(90)},
        "growth_since_first": {"master": _sample(830), "backup": _sample(400)},
    }
    for box in ("growth", "growth_since_first"):
        for g in pulls[box].values():
            g.update(fds=0, threads=0)
    text = long_run.render({"cable_pulls": pulls})
    assert "100 warm-up + 200 measured cable pulls/replugs (600 failovers" in text
    assert "over the 200 measured pulls: RSS growth 120/90 KiB" in text
    assert "warm-up included: 830/400 KiB" in text
