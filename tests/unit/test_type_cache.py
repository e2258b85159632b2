"""Issue 9: names built at run time are parked in CPython's type cache until it is cleared."""

from __future__ import annotations

import platform
import sys

import pytest

from astlinux_ha.memory import clear_type_cache


class _Probe:
    pass


@pytest.mark.skipif(platform.python_implementation() != "CPython", reason="CPython's cache")
def test_clearing_the_type_cache_releases_a_looked_up_name():
    probe = _Probe()
    # Built at run time, as pyroute2 builds f"get_{field}": a new, non-interned string.
    name = "".join(["get_", "prefixlen", "_probe"])
    before = sys.getrefcount(name)
    assert getattr(probe, name, None) is None
    assert sys.getrefcount(name) == before + 1  # the cache entry holds it
    assert clear_type_cache() is True
    assert sys.getrefcount(name) == before


def test_clearing_keeps_lookups_working():
    probe = _Probe()
    probe.value = 3
    clear_type_cache()
    assert probe.value == 3
    assert getattr(probe, "missing", "default") == "default"
