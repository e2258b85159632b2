"""SIGHUP through the supervisor shell with fake edges: what a reload keeps, restarts and
deletes, a refused config, a burst of signals, -i ID, and a stop during a reload."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from runtime_fakes import Host, serving, settle
from test_supervisor_shell import BACKUP, MASTER, host_up, instance, log_lines, run

from astlinux_ha.vrrp import model as core

BIG = instance("VI_1", 50, vip="\n    ".join(
    f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in range(1, 60000)))
THREE = instance("VI_1", 50) + instance("VI_2", 51) + instance("VI_3", 52)


def test_reload_keeps_restarts_and_deletes(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    # VI_1 as it was (its lines moved down by a comment), VI_2 changed, VI_3 gone.
    new = "# moved\n" + instance("VI_1", 50) + instance("VI_2", 51, priority=120)

    async def go(host: Host) -> None:
        async with serving(tmp_path, THREE, host) as d:
            kept, changed = d.runner("VI_1"), d.runner("VI_2")
            kept.deliver(core.TimerExpired(core.Timer.MASTER_DOWN))
            await settle()
            host.ev.clear()
            await d.reload(new)
            assert d.runner("VI_1") is kept
            assert kept.state.role is core.Role.MASTER  # in its state
            assert d.runner("VI_2") is not changed and d.runner("VI_2").params.priority == 120
            assert "VI_3" not in d.sup.runtime.runners
            assert d.sup.reloads == 1 and host.state.status["reloads"] == 1
        # DELETED only for the instance the new config lacks, before it stops.
        assert [e for e in host.ev if "DELETED" in e] == ["notify VI_3 DELETED"]
        assert host.ev.index("notify VI_3 DELETED") < host.ev.index("notifier close VI_3")
        assert "notifier close VI_1" not in host.ev[:host.ev.index("notifier close VI_3")]
    run(go)
    assert "Reload finished: 1 instances kept, 1 (re)started" in log_lines(caplog)


def test_a_kept_instance_takes_the_new_verdicts(tmp_path: Path) -> None:
    script = tmp_path / "master.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    with_notify = instance("VI_1", 50, extra=f'  notify_master "{script}"\n')

    async def go(host: Host) -> None:
        async with serving(tmp_path, with_notify, host) as d:
            runner = d.runner("VI_1")
            assert runner.notifier.scripts.master is not None
            # The same config; its script gone since: kept, and it never runs it again.
            script.unlink()
            await d.reload()
            assert d.runner("VI_1") is runner
            assert runner.notifier.scripts.master is None
    run(go)


def test_a_broken_config_keeps_the_running_one(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, MASTER, host) as d:
            runtime, runner = d.sup.runtime, d.runner("VI_1")
            await d.reload("vrrp_instance VI_1 {\n  priority\n")
            assert d.sup.runtime is runtime and d.runner("VI_1") is runner
            assert runner.state.role is core.Role.MASTER
            assert d.sup.reloads == 0
    run(go)
    lines = log_lines(caplog)
    assert any(line.endswith("failed - keeping the running configuration") for line in lines)
    assert any("missing a parameter" in line for line in lines)  # the reason, logged


def test_a_sighup_burst_coalesces_into_exactly_one_more_reload(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def go(host: Host) -> None:
        async with serving(tmp_path, BACKUP, host) as d:
            for _ in range(10):
                d.sup.request_reload()  # before the reload began: the same reload
            await d.sup._reloading
            assert d.sup.reloads == 1
            d.sup.request_reload()
            await asyncio.sleep(0)
            assert d.sup.signals.loading  # the second one is reading the config now
            for _ in range(10):
                d.sup.request_reload()  # while it runs: one more after it
            await d.sup._reloading
            assert d.sup.reloads == 3
            await d.reload()  # after it: a reload of its own
            assert d.sup.reloads == 4
    run(go)
    assert log_lines(caplog).count(f"Reloading configuration {tmp_path}/keepalived.conf") == 4


def test_the_config_id_is_kept_on_reload(tmp_path: Path) -> None:
    text = instance("VI_1", 50, extra="@box-a  priority 150\n@box-b  priority 50\n")

    async def go(host: Host) -> None:
        async with serving(tmp_path, text, host, config_id="box-a") as d:
            runner = d.runner("VI_1")
            assert runner.params.priority == 150
            await d.reload()
            # Read with the same -i: unchanged, so kept; without it, priority 100 and restarted.
            assert d.runner("VI_1") is runner and runner.params.priority == 150
    run(go)


def test_a_reload_that_raises_is_logged_and_the_queued_one_runs(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The new instance asks the interface for its source: netlink fails (an error, not OSError).
    new = instance("VI_2", 51).replace("  unicast_src_ip 10.10.50.62\n", "")

    class Broken:
        def primary_ipv4(self, exclude: object = ()) -> None:
            raise RuntimeError("netlink went away")

    async def go(host: Host) -> None:
        host.interfaces["eth0"] = Broken()  # type: ignore[assignment]
        async with serving(tmp_path, BACKUP, host) as d:
            Path(d.sup.options.config_file).write_text(new)
            d.sup.request_reload()
            await asyncio.sleep(0)
            d.sup.request_reload()  # during the first: queued, and run after it failed
            await d.sup._reloading
    run(go)
    failed = [r for r in caplog.records if r.getMessage().startswith("Reload of")]
    assert len(failed) == 2 and all(r.exc_info for r in failed)


def test_a_stop_during_the_load_cancels_it(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def go(host: Host) -> None:
        async with serving(tmp_path, MASTER, host) as d:
            # A big config: reading it takes a while in the load thread.
            Path(d.sup.options.config_file).write_text(BIG)
            d.sup.request_reload()
            await asyncio.sleep(0.02)
            assert d.sup.signals.loading
            await d.stop()
            d.sup.request_reload()  # after the stop: ignored
            assert d.sup.reloads == 0
            assert d.sup._reloading.cancelled()
    run(go)
    assert log_lines(caplog).count(f"Reloading configuration {tmp_path}/keepalived.conf") == 1


def test_a_stop_during_a_reload_hurries_the_notifiers(tmp_path: Path) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, MASTER, host) as d:
            d.sup.request_reload()
            d.sup.request_stop()
            await asyncio.wait_for(d.task, 10)
        assert host.ev.count("hurry VI_1") >= 1
    run(go, host_up())
