"""Issue 9: what a failover leaves on the heap (type-cache names, pyroute2's cyclic messages)
is released, and what a reload replaces is not kept frozen."""

from __future__ import annotations

import gc
import platform
import sys
import weakref

import pytest

from astlinux_ha.memory import clear_type_cache, settle_heap, tidy_after_change


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


class _Message:
    """Refers to itself, as each pyroute2 message does (``chain = [self]``)."""

    def __init__(self) -> None:
        self.chain = [self]


@pytest.fixture
def manual_gc():
    """Only the daemon's own calls collect; the test leaves nothing frozen behind."""
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()


def test_a_message_left_by_a_change_is_freed_by_the_tidy(manual_gc):
    settle_heap()
    msg = _Message()
    ref = weakref.ref(msg)
    del msg
    assert ref() is not None  # a cycle: reference counting alone keeps it
    tidy_after_change()
    assert ref() is None


def test_a_replaced_runtime_frozen_at_start_is_freed_at_the_next_settle(manual_gc):
    runtime = _Message()
    ref = weakref.ref(runtime)
    settle_heap()  # start-up: the runtime is frozen with everything else
    del runtime  # a reload replaced it
    tidy_after_change()
    assert ref() is not None  # frozen objects are skipped by ordinary collections
    settle_heap()
    assert ref() is None
