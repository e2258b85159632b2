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
from astlinux_ha.cli import Options
from astlinux_ha.config import check_text
from astlinux_ha.memory import clear_type_cache, settle_heap, tidy_after_change
from astlinux_ha.supervisor import Supervisor

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


def _supervisor(tmp_path, monkeypatch, settles: list[str]) -> Supervisor:
    config = check_text(SEED_BACKUP.read_text()).config
    assert config is not None
    monkeypatch.setattr(supervisor, "settle_heap", lambda: settles.append("settle"))
    options = Options(config_file=str(tmp_path / "keepalived.conf"), state_dir=str(tmp_path))
    return Supervisor(options, config, logging.getLogger("test.heap"))


@pytest.mark.parametrize("outcome", ["reloaded", "refused", "raised"])
def test_every_reload_burst_ends_in_one_settle(tmp_path, monkeypatch, caplog, outcome):
    settles: list[str] = []
    sup = _supervisor(tmp_path, monkeypatch, settles)
    calls: list[int] = []

    async def reload_once() -> bool:
        calls.append(1)
        if len(calls) == 1:
            sup.request_reload()  # a second SIGHUP during the first reload: queued, not lost
        if outcome == "raised":
            raise OSError(19, "No such device")
        return outcome == "reloaded"

    sup._reload_once = reload_once

    async def burst() -> None:
        sup.request_reload()
        await sup._reloading

    asyncio.run(burst())
    assert len(calls) == 2
    # A refused config changed nothing: no full collection on the loop for it.
    assert settles == ([] if outcome == "refused" else ["settle"])
    failed = [r.getMessage() for r in caplog.records if "Reload of" in r.getMessage()]
    assert len(failed) == (2 if outcome == "raised" else 0)


def test_a_reload_cut_short_by_a_stop_does_not_settle(tmp_path, monkeypatch):
    settles: list[str] = []
    sup = _supervisor(tmp_path, monkeypatch, settles)

    async def reload_once() -> bool:
        sup.request_stop()  # SIGTERM: the stop goes on without a full collection first
        return True

    sup._reload_once = reload_once

    async def burst() -> None:
        sup.request_reload()
        await sup._reloading

    asyncio.run(burst())
    assert settles == []
