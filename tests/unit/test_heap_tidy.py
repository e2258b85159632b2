"""Issue 9: what a failover leaves on the heap (type-cache names, pyroute2's cyclic messages)
is released, and what a reload replaces is not kept frozen."""

from __future__ import annotations

import asyncio
import gc
import logging
import platform
import sys
import weakref
from pathlib import Path

import pytest

from astlinux_ha import supervisor
from astlinux_ha.memory import clear_type_cache, settle_heap, tidy_after_change
from tests.unit.runtime.runtime_fakes import Host, serving

SEED_BACKUP = Path(__file__).resolve().parents[2] / "etc/keepalived/keepalived.conf.backup"


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
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
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


BROKEN = "vrrp_instance VI_1 {\n  priority\n"


class _FailingInterface:
    """Netlink failing while a reload builds an instance (an error, not an OSError)."""

    def primary_ipv4(self, exclude: object = ()) -> None:
        raise RuntimeError("netlink went away")


@pytest.mark.parametrize("outcome", ["reloaded", "refused", "raised"])
def test_every_reload_burst_ends_in_one_settle(tmp_path, monkeypatch, caplog, outcome):
    settles: list[str] = []
    monkeypatch.setattr(supervisor, "settle_heap", lambda: settles.append("settle"))
    caplog.set_level(logging.INFO)
    seed = SEED_BACKUP.read_text()
    new = {"reloaded": seed.replace("priority 99", "priority 98"), "refused": BROKEN,
           # an instance that asks the interface for its source
           "raised": seed.replace("    unicast_src_ip 10.10.50.65\n", "")}[outcome]

    async def burst() -> None:
        host = Host()
        host.interfaces["eth0"] = _FailingInterface()  # type: ignore[assignment]
        async with serving(tmp_path, seed, host) as d:
            settles.clear()  # the start's own
            Path(d.sup.options.config_file).write_text(new)
            d.sup.request_reload()
            await asyncio.sleep(0)
            d.sup.request_reload()  # a second SIGHUP during the first reload: queued, not lost
            await d.sup._reloading
            assert settles == ([] if outcome == "refused" else ["settle"])

    asyncio.run(burst())
    lines = [r.getMessage() for r in caplog.records]
    assert sum(line.startswith("Reloading configuration") for line in lines) == 2
    # A refused config changed nothing: no full collection on the loop for it.
    failed = [line for line in lines if line.startswith("Reload of") and "keeping" not in line]
    assert len(failed) == (2 if outcome == "raised" else 0)


def test_a_reload_cut_short_by_a_stop_does_not_settle(tmp_path, monkeypatch):
    settles: list[str] = []
    monkeypatch.setattr(supervisor, "settle_heap", lambda: settles.append("settle"))
    seed = SEED_BACKUP.read_text()

    async def reload_then_stop() -> None:
        async with serving(tmp_path, seed, Host()) as d:
            settles.clear()
            # SIGTERM while the reload builds the changed instance: the reload finishes, and
            # the stop goes on without a full collection first.
            d.host.pool.on_acquire = d.sup.request_stop
            await d.reload(seed.replace("priority 99", "priority 98"))
            assert d.sup.reloads == 1
            assert settles == []
            await asyncio.wait_for(d.task, 10)

    asyncio.run(reload_then_stop())
    assert settles == []
