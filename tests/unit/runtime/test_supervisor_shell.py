"""The supervisor as a shell: a real Supervisor, real InstanceRunners and the VRRP core on a
real asyncio loop, every edge a recording fake (runtime_fakes.py). No root, no sockets."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from runtime_fakes import NOW, Host, Info, serving, settle

from astlinux_ha import supervisor
from astlinux_ha.net import Received
from astlinux_ha.scripts.track import TrackStatus
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.packet import Advert, encode


def instance(name: str, vrid: int, *, priority: int = 100, state: str = "BACKUP",
             src: str = "10.10.50.62", extra: str = "", vip: str | None = None) -> str:
    return f"""vrrp_instance {name} {{
  state {state}
  interface eth0
  virtual_router_id {vrid}
  priority {priority}
  advert_int 1
  unicast_src_ip {src}
  unicast_peer {{
    10.10.50.65
  }}
{extra}  virtual_ipaddress {{
    {vip or f"10.10.50.{vrid}"} dev eth0
  }}
}}
"""


# An address owner with state MASTER is MASTER at once: no master-down wait in a unit test.
MASTER = instance("VI_1", 50, priority=255, state="MASTER")
BACKUP = instance("VI_1", 50)


def host_up() -> Host:
    host = Host()
    host.link_up("eth0")
    host.addresses.add(ipaddress.ip_address("10.10.50.62"))
    return host


def run(test: Callable[[Host], Coroutine[Any, Any, None]], host: Host | None = None) -> Host:
    host = host or host_up()
    asyncio.run(test(host))
    return host


def log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


# ------------------------------------------------------------ start and stop


def test_start_as_master_sets_the_vips_and_status(tmp_path: Path) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, MASTER, host) as d:
            await settle()
            assert d.runner("VI_1").state.role is core.Role.MASTER
            assert host.ev[:3] == ["advert vrid 50 prio 255", "notify VI_1 MASTER",
                                   "add 10.10.50.50"]
            status = host.state.status
            assert status["instances"]["VI_1"]["state"] == "MASTER"
            assert status["started"] == NOW and status["pid"] == os.getpid()
            assert host.state.journal[0]["to"] == "MASTER"
    run(go)


def test_start_as_backup_with_its_link_down_is_fault(tmp_path: Path) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, BACKUP, host) as d:
            assert d.runner("VI_1").state.role is core.Role.FAULT
    host = Host()
    host.addresses.add(ipaddress.ip_address("10.10.50.62"))
    run(go, host)


def test_start_without_its_source_address_is_fault(tmp_path: Path) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, BACKUP, host) as d:
            assert d.runner("VI_1").state.role is core.Role.FAULT
            host.watcher.set_address("eth1", "10.10.50.62", True)  # on another interface
            assert d.runner("VI_1").state.role is core.Role.BACKUP
    host = Host()
    host.link_up("eth0")
    run(go, host)


def test_sigterm_releasing_vips_delivers_shutdown(tmp_path: Path) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, MASTER, host) as d:
            await settle()
            host.ev.clear()
            await d.stop()
        # The machine's own Shutdown: priority 0, the VIPs removed, STOP reported.
        assert host.ev.index("hurry VI_1") < host.ev.index("advert vrid 50 prio 0")
        assert "remove 10.10.50.50" in host.ev
        assert "notify VI_1 STOP" in host.ev
        assert host.ev[-3:] == ["links close", "pool close", "netlink close"]
        assert host.pool.held == []
    run(go)


def test_sigterm_with_dont_release_vips_keeps_them(tmp_path: Path) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, MASTER, host, release_vips=False) as d:
            await settle()
            host.ev.clear()
            await d.stop()
        assert "advert vrid 50 prio 0" in host.ev
        assert "notify VI_1 STOP" in host.ev
        assert not [e for e in host.ev if e.startswith("remove")]
        assert d.runner("VI_1").state.role is core.Role.MASTER  # never left it
    run(go)


def test_startup_delay_runs_nothing_and_a_stop_ends_it(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    text = "global_defs {\n  vrrp_startup_delay 30\n}\n" + MASTER

    async def go(host: Host) -> None:
        async with serving(tmp_path, text, host) as d:
            assert host.state.status["instances"] == {}
            assert host.pool.held == []
            await d.stop()
        assert d.sup.runtime.runners == {}
        assert host.ev == ["links close", "netlink close"]
    caplog.set_level(logging.INFO)
    run(go)
    assert "Delaying startup for 30 seconds" in log_lines(caplog)
    assert log_lines(caplog)[-1] == "Stopped VRRP"


def test_startup_delay_then_start(tmp_path: Path) -> None:
    text = "global_defs {\n  vrrp_startup_delay 0.01\n}\n" + MASTER

    async def go(host: Host) -> None:
        async with serving(tmp_path, text, host) as d:
            await asyncio.sleep(0.05)
            await settle()
            assert d.runner("VI_1").state.role is core.Role.MASTER
    run(go)


def test_a_socket_that_cannot_open_disables_the_instance(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, MASTER, host) as d:
            assert d.sup.runtime.runners == {}
    host = host_up()
    host.refuse_sockets.add("eth0")
    run(go, host)
    assert ("(VI_1) cannot open VRRP socket on eth0: No such device - instance disabled"
            in log_lines(caplog))


@pytest.mark.parametrize(("info", "source"), [(Info(ipaddress.ip_address("10.10.50.7")),
                                                "10.10.50.7"), (None, "0.0.0.0")])
def test_the_source_is_the_interfaces_address_without_a_configured_one(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, info: Info | None,
        source: str) -> None:
    text = MASTER.replace("  unicast_src_ip 10.10.50.62\n", "")

    async def go(host: Host) -> None:
        if info is not None:
            host.interfaces["eth0"] = info
        async with serving(tmp_path, text, host) as d:
            assert str(d.runner("VI_1").params.primary_address) == source
    run(go)
    assert ("(VI_1) no IPv4 address on eth0 yet" in log_lines(caplog)) is (info is None)


# ------------------------------------------------------------ events in


def _advert(vrid: int, prio: int, src: str = "10.10.50.65", dst: str = "10.10.50.62",
            ifname: str = "eth0") -> Received:
    a, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    payload = encode(Advert(2, vrid, prio, 1, (ipaddress.ip_address(f"10.10.50.{vrid}"),)), a, d)
    return Received(payload, a, d, 255, ifname)


@pytest.mark.parametrize("log_unknown", [False, True])
def test_packets_go_to_their_vrid_and_others_are_counted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, log_unknown: bool) -> None:
    text = ("global_defs {\n  log_unknown_vrids\n}\n" if log_unknown else "") + BACKUP
    caplog.set_level(logging.INFO)

    async def go(host: Host) -> None:
        async with serving(tmp_path, text, host) as d:
            host.pool.on_packet(_advert(50, 150))
            assert d.runner("VI_1").counters["accepted"] == 1
            host.pool.on_packet(_advert(51, 150))
            host.pool.on_packet(_advert(51, 150, ifname=""))  # an unbound socket's copy
            host.pool.on_packet(Received(b"\x21", ipaddress.ip_address("10.10.50.65"),
                                         ipaddress.ip_address("10.10.50.62"), 255, "eth0"))
            assert d.sup.counters == {"unknown vrid": 1, "short packet": 1}
            d.sup.dump_stats()
            assert "Packets for no instance:\n  short packet: 1\n  unknown vrid: 1" in (
                host.state.dumps["keepalived.stats"])
    run(go)
    line = "Unknown VRID 51 received on eth0 from 10.10.50.65"
    assert (line in log_lines(caplog)) is log_unknown


def test_link_events_reach_the_instances_that_track_the_link(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, BACKUP, host) as d:
            host.watcher.set_link("eth1", False)  # nobody tracks it
            assert d.runner("VI_1").state.role is core.Role.BACKUP
            host.watcher.set_link("eth0", False)
            assert d.runner("VI_1").state.role is core.Role.FAULT
            host.watcher.set_link("eth0", False, exists=False)  # gone
            host.pool.reopen = ["key-eth0"]
            host.watcher.set_link("eth0", True, ifindex=9)  # re-created, a new index
            assert d.runner("VI_1").state.role is core.Role.BACKUP
            assert host.ev.count("reopen eth0") == 1
    run(go)
    assert "cannot reopen VRRP socket key-eth0" in log_lines(caplog)


TRACKED = """vrrp_script chk {
  script "/bin/true"
  init_fail
}
vrrp_script unused {
  script "/bin/true"
}
""" + instance("VI_1", 50, extra="  track_script {\n    chk\n  }\n")


def test_track_scripts_run_when_tracked_and_their_results_reach_the_instance(
        tmp_path: Path) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, TRACKED, host) as d:
            assert sorted(host.tracks) == ["chk"]  # 'unused' is tracked by nobody
            assert "track start chk" in host.ev
            # init_fail: down until its first success
            assert d.runner("VI_1").state.role is core.Role.FAULT
            host.tracks["chk"].on_change(TrackStatus("chk", True))
            assert d.runner("VI_1").state.role is core.Role.BACKUP
            await d.stop()
        assert "track stop chk" in host.ev
    run(go)


FIFOS = """global_defs {
  notify_fifo /run/fifo1 nobody-here
  vrrp_notify_fifo /run/fifo2
}
""" + MASTER


def test_notify_fifos_open_unless_refused(tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, FIFOS, host) as d:
            assert [f.path for f in d.sup.runtime.fifos] == []
            await d.stop()
        assert not [e for e in host.ev if e.startswith("fifo close")]
    host = host_up()
    host.refuse_fifos.add("/run/fifo2")
    run(go, host)
    lines = log_lines(caplog)
    assert any("notify fifo /run/fifo1: Script user 'nobody-here' does not exist - not using it"
               in line for line in lines)
    assert "notify FIFO /run/fifo2 refused" in lines


def test_an_open_fifo_is_closed_with_the_stop_grace(tmp_path: Path) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, FIFOS.replace(" nobody-here", " someone"), host) as d:
            fifo = d.sup.runtime.fifos[0]
            assert (fifo.path, fifo.uid) == ("/run/fifo1", 1000)
            assert host.notifiers["VI_1"].fifos == tuple(d.sup.runtime.fifos)
            assert len(d.sup.runtime.fifos) == 2
            await d.stop()
        assert f"fifo close /run/fifo1 grace {supervisor.STOP_GRACE}" in host.ev
    run(go)


# ------------------------------------------------------------ records


def test_dumps_are_written_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def go(host: Host) -> None:
        async with serving(tmp_path, MASTER, host) as d:
            d.sup.dump_data()
            d.sup.dump_stats()
            data = host.state.dumps["keepalived.data"]
            assert data.startswith(f"------< astlinux-ha VRRP data, {NOW} >------\n")
            assert " VRRP Instance = VI_1\n   State = MASTER\n" in data
            assert "Link watcher re-syncs: 3" in host.state.dumps["keepalived.stats"]
            host.state.refuse_dumps = True
            d.sup.dump_data()  # a failed write is the state dir's to log
    run(go)
    assert log_lines(caplog).count("Wrote /state/keepalived.data") == 1
    assert log_lines(caplog).count("Wrote /state/keepalived.stats") == 1


def test_status_changes_are_coalesced(tmp_path: Path) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, BACKUP, host) as d:
            await asyncio.sleep(supervisor.STATUS_COALESCE * 2)  # the start's own
            before = host.state.writes
            for _ in range(5):
                d.sup._status_changed()
            await asyncio.sleep(supervisor.STATUS_COALESCE * 2)
            assert host.state.writes == before + 1
    run(go)


def test_the_ticks_refresh_counters_and_tidy(tmp_path: Path, monkeypatch) -> None:
    tidies: list[int] = []
    clears: list[int] = []
    monkeypatch.setattr(supervisor, "tidy_after_change", lambda: tidies.append(1))
    monkeypatch.setattr(supervisor, "clear_type_cache", lambda: clears.append(1))

    async def go(host: Host) -> None:
        async with serving(tmp_path, BACKUP, host) as d:
            host.pool.on_packet(_advert(50, 150))  # a counter moved
            writes = host.state.writes
            for _ in range(supervisor.COUNTERS_EVERY - 1):
                d.sup._tick()
            assert host.state.writes == writes  # not yet
            d.sup._tick()
            assert host.state.writes == writes + 1
            assert clears == [1]  # the write's timestamp names leave the type cache
            for _ in range(supervisor.TIDY_TICKS + 1):
                d.sup._tick()
    run(go)
    # After the start only: a counters-only write changed nothing that needs a full
    # collection (issue 16: two gc.collect() per refresh, every COUNTERS_EVERY seconds).
    assert len(tidies) == supervisor.TIDY_TICKS


# ------------------------------------------------------------ sync groups


GROUPED = """vrrp_sync_group G1 {
  group {
    VI_1
    VI_2
    VI_9
  }
}
""" + instance("VI_1", 50) + instance("VI_2", 51)


def test_a_sync_group_moves_its_members_together(tmp_path: Path) -> None:
    async def go(host: Host) -> None:
        async with serving(tmp_path, GROUPED, host) as d:
            group = d.sup.runtime.groups["G1"]
            assert list(group.members) == ["VI_1", "VI_2"]
            for name in ("VI_1", "VI_2"):
                d.runner(name).deliver(core.TimerExpired(core.Timer.MASTER_DOWN))
            await settle()
            assert [d.runner(n).state.role for n in ("VI_1", "VI_2")] == [core.Role.MASTER] * 2
            assert d.sup.status()["sync_groups"] == {
                "G1": {"state": "MASTER", "members": ["VI_1", "VI_2"]}}
            assert "notify G1 MASTER" in host.ev
            # With groups a reload keeps nothing: the group's state is rebuilt.
            old = d.runner("VI_1")
            await d.reload()
            assert d.runner("VI_1") is not old
            assert "notifier close G1" in host.ev
    run(go)
