"""keepalived's VRRP timer arithmetic, in integer microseconds as keepalived computes it.

Working in whole microseconds (keepalived's TIMER_HZ) makes our timers land on exactly the
same instants as keepalived's, rounding included, and lets tests compare to the microsecond.
"""

from __future__ import annotations

import functools

TIMER_HZ = 1_000_000
OWNER_PRIORITY = 255


# Asked for on every advert (InstanceParams.adver_us); the answer never changes.
@functools.cache
def advert_us(version: int, advert_int: float) -> int:
    """The configured advertisement interval: v2 whole seconds, v3 whole centiseconds."""
    if version == 2:
        return max(1, round(advert_int)) * TIMER_HZ
    return max(1, round(advert_int * 100)) * (TIMER_HZ // 100)


def skew_us(version: int, priority: int, master_adver_us: int) -> int:
    """Skew_Time: v2 (256-p)/256 s; v3 (256-p) * Master_Adver_Interval / 256.

    ``priority`` is the effective priority (255 for an address owner).
    """
    weight = 256 - priority
    if version == 2:
        return weight * TIMER_HZ // 256
    centis = master_adver_us // (TIMER_HZ // 100)
    return weight * centis * 625 // 16


def down_us(version: int, priority: int, master_adver_us: int, adverts: int = 3) -> int:
    """Master_Down_Interval: ``adverts`` x Master_Adver_Interval + Skew_Time."""
    return adverts * master_adver_us + skew_us(version, priority, master_adver_us)


def seconds(us: int) -> float:
    """Microseconds as float seconds, for ``now``-style clocks."""
    return us / TIMER_HZ
