"""Pure helpers for the benchmarks: summaries over repetitions, advert jitter, RFC intervals."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def summary(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Median and max of the repetitions that produced a number; ``n`` counts them, ``failed``
    the ones that did not (a step that timed out is a failure, never a silent zero)."""
    got = [float(v) for v in values if v is not None]
    return {
        "median": statistics.median(got) if got else None,
        "max": max(got) if got else None,
        "n": len(got),
        "failed": len(values) - len(got),
    }


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of nothing")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def intervals(times: Sequence[float]) -> list[float]:
    """Differences between consecutive times (seconds), in order."""
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def jitter(times: Sequence[float], nominal: float) -> dict[str, float | int]:
    """How far advert intervals stray from ``nominal``: |interval - nominal| in ms, p50/p99/max,
    plus the mean interval (a steady drift shows there, not in the jitter)."""
    gaps = intervals(times)
    if not gaps:
        raise ValueError("need at least two adverts")
    dev = [abs(g - nominal) * 1000.0 for g in gaps]
    return {
        "samples": len(gaps),
        "p50_ms": percentile(dev, 50),
        "p99_ms": percentile(dev, 99),
        "max_ms": max(dev),
        "mean_interval_ms": statistics.fmean(gaps) * 1000.0,
    }


def master_down_interval(advert_int: float, priority: int, version: int) -> float:
    """RFC 3768 / 5798: 3 x Advertisement_Interval + Skew_Time, in seconds.

    v2: Skew = (256 - priority) / 256 s; v3: Skew = (256 - priority) x Advert / 256.
    """
    if version == 2:
        skew = (256 - priority) / 256.0
    else:
        skew = (256 - priority) * advert_int / 256.0
    return 3 * advert_int + skew


def skew_time(advert_int: float, priority: int, version: int) -> float:
    """RFC Skew_Time: how long a backup waits after a priority-0 advert."""
    return master_down_interval(advert_int, priority, version) - 3 * advert_int


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / theirs, None when either is missing or theirs is zero."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs
