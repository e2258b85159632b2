"""InstanceRunner, the shell of one vrrp_instance, driven without sockets or root: a clock the
test fires by hand, a socket that records what it is asked to send, recording address and
GARP edges, ARP watchers the test makes claim, a notifier that records."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import ipaddress
import logging
from typing import Any

import pytest

from astlinux_ha.config import check_text
from astlinux_ha.instance import InstanceRunner, Shared
from astlinux_ha.net import Received, SendError
from astlinux_ha.net.addresses import Failure
from astlinux_ha.net.announce import AnnounceResult
from astlinux_ha.net.conflict import ConflictWatcher
from astlinux_ha.runtime.plan import core_params, plan, receive_params, socket_key
from astlinux_ha.vrrp import ah
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.packet import Advert, AuthType, ChecksumVariant, checksum_variant, encode
from astlinux_ha.vrrp.receive import MCAST_GROUP4

OURS = ipaddress.IPv4Address("10.10.50.62")
PEER = ipaddress.IPv4Address("10.10.50.65")
VIP = ipaddress.IPv4Address("10.10.50.244")
MAC = "02:00:0a:0a:32:41"
T0 = 1000.0
LOG = "test.instance_shell"


def _config(priority: int = 100, state: str = "BACKUP", version: int = 2, extra: str = "",
            vips: str = "10.10.50.244 dev eth0 label eth0:10") -> str:
    return f"""
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 50
    version {version}
    priority {priority}
    advert_int 1
    unicast_src_ip {OURS}
    unicast_peer {{
        {PEER}
    }}
    {extra}
    virtual_ipaddress {{
        {vips}
    }}
}}
"""


OWNER = _config(priority=255, state="MASTER")  # MASTER at once, as keepalived's owner
BACKUP = _config()


class Handle:
    def __init__(self, when: float, callback: Any, args: tuple[Any, ...]) -> None:
        self.when, self.callback, self.args = when, callback, args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Virtual monotonic time: callbacks run only when the test advances it."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.handles: list[Handle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any, *args: Any) -> Handle:
        handle = Handle(when, callback, args)
        self.handles.append(handle)
        return handle

    def call_later(self, delay: float, callback: Any, *args: Any) -> Handle:
        return self.call_at(self.now + delay, callback, *args)

    def pending(self) -> list[Handle]:
        return [h for h in self.handles if not h.cancelled]

    def advance(self, to: float) -> None:
        """Run every callback due by ``to``, in time order, each at its own time."""
        while True:
            due = [h for h in self.pending() if h.when <= to]
            if not due:
                break
            handle = min(due, key=lambda h: h.when)
            self.handles.remove(handle)
            self.now = max(self.now, handle.when)
            handle.callback(*handle.args)
        self.now = to


class Edges:
    """The socket, the address manager, the announcer and the notifier, recording in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.sent: list[tuple[bytes, Any, Any, Any]] = []
        self.send_errors: dict[Any, SendError] = {}
        self.add_failures: list[Failure] = []
        self.leftovers: list[Any] = []
        self.garp_errors: list[str] = []

    # VrrpSocket
    def send(self, payload: bytes, dst: Any = None, src: Any = None, ttl: Any = None) -> Any:
        self.sent.append((payload, dst, src, ttl))
        self.events.append("advert")
        return self.send_errors.get(dst)

    # AddressManager
    async def add_vips(self, vips: list[Any]) -> list[Failure]:
        self.events.append("add " + ",".join(str(v.address) for v in vips))
        await asyncio.sleep(0)
        return list(self.add_failures)

    async def add_routes(self, routes: list[Any]) -> list[Failure]:
        return []

    async def remove_vips(self, vips: list[Any]) -> list[Failure]:
        self.events.append("remove " + ",".join(str(v.address) for v in vips))
        await asyncio.sleep(0)
        return []

    async def remove_routes(self, routes: list[Any]) -> list[Failure]:
        return []

    async def remove_leftovers(self, vips: list[Any]) -> list[Any]:
        self.events.append("sweep")
        return list(self.leftovers)

    # Announcer
    async def announce(self, ifname: str, addrs: list[Any], repeat: int) -> AnnounceResult:
        self.events.append(f"garp {ifname} {','.join(map(str, addrs))} x{repeat}")
        return AnnounceResult(sent=repeat, errors=list(self.garp_errors))

    # Notifier
    def notify(self, state: str, priority: int) -> None:
        self.events.append(f"notify {state} {priority}")


class FakeWatcher:
    def __init__(self, edges: Edges, ifname: str, vips: Any, on_claim: Any,
                 refuse: bool) -> None:
        self.edges, self.ifname, self.vips = edges, ifname, list(vips)
        self.on_claim, self.refuse = on_claim, refuse
        self.probes: list[Any] = []
        self.closed = False

    def start(self) -> None:
        if self.refuse:
            raise OSError(errno.ENODEV, "No such device")
        self.edges.events.append(f"watch {self.ifname}")

    def probe(self, sender: Any) -> int:
        self.probes.append(sender)
        return len(self.vips)

    def close(self) -> None:
        self.closed = True
        self.edges.events.append(f"unwatch {self.ifname}")


class Box:
    """One runner on fakes, and the fakes to look at."""

    def __init__(self, text: str, *, source: Any = OURS, refuse_watch: frozenset[str] = frozenset(),
                 params_change: dict[str, Any] | None = None) -> None:
        config = check_text(text).config
        assert config is not None
        inst = config.instances[0]
        p = plan(config, inst, frozenset())
        self.edges = Edges()
        self.clock = FakeClock()
        self.watchers: list[FakeWatcher] = []
        self.transitions: list[core.Transition] = []
        self.changes = 0

        def conflicts(ifname: str, vips: Any, on_claim: Any) -> FakeWatcher:
            watcher = FakeWatcher(self.edges, ifname, vips, on_claim, ifname in refuse_watch)
            self.watchers.append(watcher)
            return watcher

        def changed() -> None:
            self.changes += 1

        shared = Shared(addresses=self.edges, announcer=self.edges,  # type: ignore[arg-type]
                        log=logging.getLogger(LOG),
                        on_transition=lambda name, t, state: self.transitions.append(t),
                        on_change=changed, clock=self.clock, conflicts=conflicts)
        params = dataclasses.replace(core_params(config, p, source), **(params_change or {}))
        self.runner = InstanceRunner(p, params, receive_params(config, p), self.edges,  # type: ignore[arg-type]
                                     socket_key(inst, source), self.edges, shared)  # type: ignore[arg-type]

    def advert_from_peer(self, priority: int, **kw: Any) -> Received:
        payload = encode(Advert(2, 50, priority, 1, (VIP,)), PEER, OURS, **kw)
        return Received(payload, PEER, OURS, 255, "eth0")

    def priorities_sent(self) -> list[int]:
        return [payload[2] for payload, *_ in self.edges.sent]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------------ a master's adverts and VIPs


def test_a_master_sends_an_advert_at_each_expiry_and_sets_the_vips_before_the_garps():
    run(_master_adverts())


async def _master_adverts() -> None:
    box = Box(OWNER)
    runner = box.runner
    runner.feed(core.Start())
    assert runner.state.role is core.Role.MASTER
    # At once: the advert (first, RFC 3768) and the notify; the netlink work is queued.
    assert box.edges.events == ["advert", "notify MASTER 255"]
    await runner.drain()
    assert box.edges.events[2:] == ["sweep", "add 10.10.50.244",
                                    "garp eth0 10.10.50.244 x5", "watch eth0"]
    payload, dst, src, ttl = box.edges.sent[0]
    assert payload == encode(Advert(2, 50, 255, 1, (VIP,)), OURS, PEER)
    assert (dst, src, ttl) == (PEER, OURS, None)
    box.clock.advance(T0 + 0.999)
    assert len(box.edges.sent) == 1
    box.clock.advance(T0 + 3.0)
    assert box.priorities_sent() == [255] * 4
    assert runner.counters["sent"] == 4
    assert [t.to_role for t in box.transitions] == [core.Role.MASTER]
    box.clock.advance(T0 + 5.0)  # garp_master_delay: the second burst
    await runner.drain()
    assert box.edges.events.count("garp eth0 10.10.50.244 x5") == 2
    assert runner.counters["garp_sent"] == 10


def test_unicast_ttl_is_what_unicast_adverts_leave_with():
    run(_unicast_ttl())


async def _unicast_ttl() -> None:
    box = Box(_config(priority=255, state="MASTER", extra="unicast_ttl 10"))
    box.runner.feed(core.Start())
    await box.runner.drain()
    assert box.edges.sent[0][3] == 10
    box.runner.cancel_timers()


def test_a_backup_takes_over_when_the_master_down_timer_expires():
    run(_takeover())


async def _takeover() -> None:
    box = Box(BACKUP)
    runner = box.runner
    runner.feed(core.Start())
    await runner.drain()
    assert runner.state.role is core.Role.BACKUP
    assert box.edges.events == ["notify BACKUP 100", "sweep"]
    # Down interval 3 * 1 s + skew (256 - 100) / 256 s.
    box.clock.advance(T0 + 3.6)
    assert runner.state.role is core.Role.BACKUP and not box.edges.sent
    box.clock.advance(T0 + 3.61)
    assert runner.state.role is core.Role.MASTER
    assert box.priorities_sent() == [100]
    await runner.drain()
    assert box.edges.events[2:] == ["advert", "notify MASTER 100", "add 10.10.50.244",
                                    "garp eth0 10.10.50.244 x5", "watch eth0"]
    assert runner.counters["to_master"] == 1 and runner.counters["to_backup"] == 1
    assert box.transitions[-1].cause.startswith("master down timer expired")


def test_an_advert_from_the_master_holds_the_takeover_off():
    run(_held_off())


async def _held_off() -> None:
    box = Box(BACKUP)
    runner = box.runner
    runner.feed(core.Start())
    box.clock.advance(T0 + 2.0)
    changes = box.changes
    runner.on_packet(box.advert_from_peer(200))
    assert runner.counters["accepted"] == 1
    assert runner.state.master_address == PEER
    assert box.changes == changes + 1  # status.json shows the master now
    runner.on_packet(box.advert_from_peer(200))
    assert box.changes == changes + 1  # nothing it shows changed
    box.clock.advance(T0 + 4.0)
    assert runner.state.role is core.Role.BACKUP
    box.clock.advance(T0 + 2.0 + 3.61)
    assert runner.state.role is core.Role.MASTER
    await runner.drain()


def test_shutdown_sends_priority_0_and_removes_the_vips_before_closing_the_watch():
    run(_shutdown())


async def _shutdown() -> None:
    box = Box(OWNER)
    runner = box.runner
    runner.feed(core.Start())
    await runner.drain()
    box.edges.events.clear()
    runner.feed(core.Shutdown())
    assert box.priorities_sent()[-1] == 0
    await runner.drain()
    assert box.edges.events.index("remove 10.10.50.244") < box.edges.events.index(
        "unwatch eth0")
    assert box.clock.pending() == []  # the advert and GARP timers are cancelled
    runner.cancel_timers()
    assert box.edges.events.count("unwatch eth0") == 1


def test_cancel_timers_drops_every_timer_and_closes_the_watch_at_once():
    run(_cancel())


async def _cancel() -> None:
    box = Box(OWNER)
    box.runner.feed(core.Start())
    await box.runner.drain()
    assert box.clock.pending()  # the advert, GARP and probe timers
    box.runner.cancel_timers()
    assert box.clock.pending() == []
    assert box.watchers[0].closed


# ------------------------------------------------------------ split brain through ARP


def test_a_foreign_claim_outliving_the_grace_logs_split_brain_once_per_mac(caplog):
    run(_split_brain(caplog))


async def _split_brain(caplog: pytest.LogCaptureFixture) -> None:
    box = Box(OWNER)
    runner = box.runner
    runner.feed(core.Start())
    await runner.drain()
    [watcher] = box.watchers
    assert watcher.vips == [VIP]
    with caplog.at_level(logging.WARNING, logger=LOG):
        box.clock.advance(T0 + 0.5)
        watcher.on_claim(VIP, MAC)
        box.clock.advance(T0 + 1.49)
        assert runner.counters["split_brain"] == 0  # still inside the grace
        watcher.on_claim(VIP, MAC)  # the same MAC, pending: nothing more
        box.clock.advance(T0 + 1.5)
        watcher.on_claim(VIP, MAC)  # already reported in this mastership
        box.clock.advance(T0 + 10.0)
    lines = [r.getMessage() for r in caplog.records if "split brain" in r.getMessage()]
    assert lines == ["(VI_1) split brain: 10.10.50.244 is also held by 02:00:0a:0a:32:41, "
                     "a master that does not hear our adverts (is VRRP blocked between them?)"]
    assert runner.counters["split_brain"] == 1
    # The probe: one "who has" per VIP from our source, a grace after the watch opened.
    assert watcher.probes == [OURS] and runner.counters["arp_probe_sent"] == 1
    runner.cancel_timers()


def test_a_claim_is_dropped_if_we_handed_over_and_the_next_mastership_reports_again(caplog):
    run(_handed_over(caplog))


async def _handed_over(caplog: pytest.LogCaptureFixture) -> None:
    box = Box(BACKUP)
    runner = box.runner
    runner.feed(core.Start())
    box.clock.advance(T0 + 3.61)  # MASTER
    await runner.drain()
    first = box.watchers[0]
    first.on_claim(VIP, MAC)  # the old master, still answering for the VIP
    runner.on_packet(box.advert_from_peer(200))  # ... which then wins: we hand over
    assert runner.state.role is core.Role.BACKUP
    await runner.drain()
    assert first.closed
    with caplog.at_level(logging.WARNING, logger=LOG):
        box.clock.advance(T0 + 10.0)
        first.on_claim(VIP, MAC)  # a late frame reaching the closed watcher
        box.clock.advance(T0 + 11.0)
    assert runner.counters["split_brain"] == 0
    assert not [r for r in caplog.records if "split brain" in r.getMessage()]
    # The next mastership watches anew and reports the same MAC again.
    box.clock.advance(T0 + 30.0)
    assert runner.state.role is core.Role.MASTER
    await runner.drain()
    second = box.watchers[-1]
    assert second is not first and not second.closed
    second.on_claim(VIP, MAC)
    box.clock.advance(T0 + 32.0)
    assert runner.counters["split_brain"] == 1
    runner.cancel_timers()


def test_a_claim_is_dropped_when_a_group_moved_us_out_of_master_meanwhile():
    run(_moved_out())


async def _moved_out() -> None:
    box = Box(OWNER)
    runner = box.runner
    runner.feed(core.Start())
    await runner.drain()
    box.watchers[0].on_claim(VIP, MAC)
    # A sync group's dispatcher adopts states through apply(); here one with no actions.
    runner.apply(dataclasses.replace(runner.state, role=core.Role.BACKUP), [])
    box.clock.advance(T0 + 5.0)
    assert runner.counters["split_brain"] == 0
    runner.cancel_timers()


def test_a_watch_from_an_ended_mastership_never_opens():
    run(_never_opens())


async def _never_opens() -> None:
    box = Box(BACKUP)
    box.runner.feed(core.Start())
    box.clock.advance(T0 + 3.61)  # MASTER, the watch queued behind the VIP work
    box.runner.feed(core.Shutdown())  # before the loop ran it
    await box.runner.drain()
    assert box.watchers == []


def test_an_interface_that_refuses_the_watch_is_logged_and_probes_nothing(caplog):
    run(_refused(caplog))


async def _refused(caplog: pytest.LogCaptureFixture) -> None:
    box = Box(OWNER, refuse_watch=frozenset({"eth0"}))
    with caplog.at_level(logging.WARNING, logger=LOG):
        box.runner.feed(core.Start())
        await box.runner.drain()
    assert "(VI_1) cannot watch ARP on eth0: No such device" in caplog.messages
    assert not any(h.callback.__name__ == "_send_probe" for h in box.clock.pending())
    box.runner.cancel_timers()
    assert not box.watchers[0].closed  # never opened, never closed


def test_ipv6_vips_and_an_unspecified_source_get_no_probe():
    run(_no_probe())


async def _no_probe() -> None:
    v6 = "fd00::244 dev eth0"
    box = Box(_config(priority=255, state="MASTER",
                      vips="10.10.50.244 dev eth0\n        10.10.50.245 dev eth1\n"
                           f"        {v6}"),
              params_change={"primary_address": ipaddress.IPv4Address("0.0.0.0")})
    box.runner.feed(core.Start())
    await box.runner.drain()
    assert {w.ifname: w.vips for w in box.watchers} == {
        "eth0": [VIP], "eth1": [ipaddress.IPv4Address("10.10.50.245")]}
    assert not any(h.callback.__name__ == "_send_probe" for h in box.clock.pending())
    box.runner.cancel_timers()


# ------------------------------------------------------------ what comes in


def test_bad_packets_are_counted_and_logged_once_a_minute_with_a_summary(caplog):
    run(_bad_packets(caplog))


async def _bad_packets(caplog: pytest.LogCaptureFixture) -> None:
    box = Box(BACKUP)
    runner = box.runner
    runner.feed(core.Start())
    junk = Received(b"\x21\x32", PEER, OURS, 255, "eth0")
    with caplog.at_level(logging.WARNING, logger=LOG):
        for _ in range(3):
            runner.on_packet(junk)
        box.clock.now = T0 + 30.0
        runner.log_suppressed(box.clock.time())  # the window is still open
        box.clock.now = T0 + 60.0
        runner.log_suppressed(box.clock.time())
        runner.log_suppressed(box.clock.time())  # reported once
    assert caplog.messages == [
        "(VI_1) vrrp packet from 10.10.50.65 too short, length 2",
        "(VI_1) 2 similar messages suppressed in the last 60 s: truncated from 10.10.50.65",
    ]
    assert runner.counters["truncated"] == 3
    assert runner.counters["accepted"] == 0


def test_a_packet_another_kind_of_socket_delivered_is_not_ours():
    run(_not_ours())


async def _not_ours() -> None:
    box = Box(BACKUP)
    box.runner.feed(core.Start())
    rec = dataclasses.replace(box.advert_from_peer(200), via=ah.IPPROTO_AH)
    box.runner.on_packet(rec)
    assert box.runner.counters == {"to_backup": 1}


def test_warnings_are_counted_and_the_advert_still_taken(caplog):
    run(_warnings(caplog))


async def _warnings(caplog: pytest.LogCaptureFixture) -> None:
    box = Box(BACKUP)
    box.runner.feed(core.Start())
    payload = encode(Advert(2, 50, 200, 1, (VIP, ipaddress.IPv4Address("10.10.50.9"))),
                     PEER, OURS)
    with caplog.at_level(logging.WARNING, logger=LOG):
        box.runner.on_packet(Received(payload, PEER, OURS, 255, "eth0"))
    assert box.runner.counters["accepted"] == 1
    assert box.runner.counters["vip count"] == 1
    assert caplog.messages == ["(VI_1) expected 1 VIPs but received 2"]
    assert box.runner.state.master_address == PEER


def test_an_old_unicast_checksum_peer_switches_our_adverts_to_its_checksum():
    run(_checksum_compat())


async def _checksum_compat() -> None:
    box = Box(_config(version=3))
    runner = box.runner
    runner.feed(core.Start())
    box.clock.advance(T0 + 3.61)
    await runner.drain()
    assert checksum_variant(box.edges.sent[-1][0], OURS, PEER) is ChecksumVariant.PSEUDO_HEADER
    payload = encode(Advert(3, 50, 50, 100, (VIP,)), PEER, OURS, mcast_group=MCAST_GROUP4)
    runner.on_packet(Received(payload, PEER, OURS, 255, "eth0"))
    assert runner.counters["old unicast checksum"] == 1
    runner.send_advert(100)
    assert checksum_variant(box.edges.sent[-1][0], OURS, PEER,
                            mcast_group=MCAST_GROUP4) is ChecksumVariant.MCAST_DST
    runner.cancel_timers()


def test_an_ah_backup_carries_on_from_the_master_s_sequence_number_when_it_takes_over():
    run(_ah_takeover())


async def _ah_takeover() -> None:
    box = Box(_config(extra="authentication {\n auth_type AH\n auth_pass secret12\n }"))
    runner = box.runner
    runner.feed(core.Start())
    vrrp = encode(Advert(2, 50, 200, 1, (VIP,), AuthType.AH), PEER, OURS)
    datagram = ah.build(vrrp, PEER, OURS, key=b"secret12", seq=41, ip_id=7, unicast=True)
    packet = ah.split(datagram)
    rec = Received(packet.payload, PEER, OURS, 255, "eth0", ah=packet, via=ah.IPPROTO_AH)
    runner.on_packet(rec)
    assert runner.counters["accepted"] == 1
    runner.on_packet(rec)  # the same capture again
    assert runner.counters["ah replay"] == 1
    runner.on_packet(Received(vrrp, PEER, OURS, 255, "eth0"))  # a plain copy: not ours
    box.clock.advance(T0 + 10.0)
    assert runner.state.role is core.Role.MASTER
    mine = ah.split(box.edges.sent[0][0])
    assert mine.seq == 42 and box.edges.sent[0][1] == PEER
    assert ah.verify_icv(b"secret12", mine, unicast=True)
    await runner.drain()
    runner.cancel_timers()


def test_an_ah_counter_held_at_its_limit_starts_again_at_the_next_takeover():
    run(_ah_held())


async def _ah_held() -> None:
    box = Box(_config(extra="authentication {\n auth_type AH\n auth_pass secret12\n }"))
    runner = box.runner
    runner.feed(core.Start())
    box.clock.advance(T0 + 3.61)  # MASTER
    runner._adverts.seq = ah.SeqCounter(ah.SEQ_HOLD + 1)  # 136 years of adverts later
    runner.send_advert(100)
    assert ah.split(box.edges.sent[-1][0]).seq == ah.SEQ_HOLD + 1  # held
    runner.feed(core.InterfaceDown("eth0"))
    runner.feed(core.InterfaceUp("eth0"))
    sent = len(box.edges.sent)
    box.clock.advance(T0 + 10.0)
    assert runner.state.role is core.Role.MASTER
    assert runner.counters["to_master"] == 2
    assert [ah.split(d[0]).seq for d in box.edges.sent[sent:sent + 2]] == [1, 2]
    await runner.drain()
    runner.cancel_timers()


# ------------------------------------------------------------ what goes wrong going out


def test_a_failed_send_is_counted_and_logged_once(caplog):
    run(_send_error(caplog))


async def _send_error(caplog: pytest.LogCaptureFixture) -> None:
    box = Box(OWNER)
    box.edges.send_errors[PEER] = SendError(errno.ENETUNREACH, "Network is unreachable", PEER)
    with caplog.at_level(logging.WARNING, logger=LOG):
        box.runner.feed(core.Start())
        box.clock.advance(T0 + 2.0)
    assert box.runner.counters["send_error"] == 3 and box.runner.counters["sent"] == 0
    assert caplog.messages == ["(VI_1) cannot send advert to 10.10.50.65: "
                               "Network is unreachable"]
    await box.runner.drain()
    box.runner.cancel_timers()


def test_an_advert_that_cannot_be_built_is_a_send_error(caplog):
    run(_encode_error(caplog))


async def _encode_error(caplog: pytest.LogCaptureFixture) -> None:
    v6 = ipaddress.IPv6Address("fd00::65")
    box = Box(OWNER, params_change={"unicast_peers": (v6,)})
    with caplog.at_level(logging.WARNING, logger=LOG):
        box.runner.feed(core.Start())
    assert box.runner.counters["send_error"] == 1 and not box.edges.sent
    assert "(VI_1) cannot build advert: source and destination families differ" in \
        caplog.messages
    await box.runner.drain()
    box.runner.cancel_timers()


def test_netlink_and_garp_trouble_is_logged(caplog):
    run(_edge_errors(caplog))


async def _edge_errors(caplog: pytest.LogCaptureFixture) -> None:
    box = Box(OWNER)
    vip = box.runner.plan.vips[0]
    box.edges.leftovers = [vip]
    box.edges.add_failures = [Failure(vip, "File exists")]
    box.edges.garp_errors = ["Network is down"]
    with caplog.at_level(logging.INFO, logger=LOG):
        box.runner.feed(core.Start())
        await box.runner.drain()
    assert "(VI_1) removed leftover VIP 10.10.50.244" in caplog.messages
    assert any(m.startswith("(VI_1) cannot set ") and m.endswith(": File exists")
               for m in caplog.messages)
    assert "(VI_1) gratuitous ARP/NA on eth0: Network is down" in caplog.messages
    assert "(VI_1) Entering MASTER STATE" in caplog.messages
    box.runner.cancel_timers()


def test_no_garp_goes_out_once_the_mastership_has_ended():
    run(_no_garp())


async def _no_garp() -> None:
    box = Box(OWNER)
    box.runner.feed(core.Start())
    box.runner.feed(core.Shutdown())  # before the queued GARP ran
    await box.runner.drain()
    assert not any(e.startswith("garp") for e in box.edges.events)


def test_a_failed_removal_is_logged(caplog):
    run(_remove_error(caplog))


async def _remove_error(caplog: pytest.LogCaptureFixture) -> None:
    box = Box(OWNER)
    box.runner.feed(core.Start())
    await box.runner.drain()

    async def refuse(vips: list[Any]) -> list[Failure]:
        return [Failure(vips[0], "Cannot assign requested address")]

    box.edges.remove_vips = refuse  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger=LOG):
        box.runner.feed(core.Shutdown())
        await box.runner.drain()
    assert [m for m in caplog.messages if m.startswith("(VI_1) cannot remove ")]


def test_the_daemon_s_edges_are_the_loop_and_the_arp_watcher_by_default():
    run(_defaults())


async def _defaults() -> None:
    shared = Shared(addresses=None, announcer=None, log=logging.getLogger(LOG),  # type: ignore[arg-type]
                    on_transition=lambda name, t, state: None)
    assert shared.clock is asyncio.get_running_loop() is shared.loop
    watcher = shared.conflicts("eth0", [VIP], lambda vip, mac: None)
    assert isinstance(watcher, ConflictWatcher) and watcher.vips == {VIP}
    watcher.close()  # never started: nothing was opened


# ------------------------------------------------------------ status.json


def test_status_shows_the_instance_as_status_json_does():
    run(_status())


async def _status() -> None:
    box = Box(BACKUP)
    runner = box.runner
    assert runner.status()["state"] == "INIT" and runner.status()["master"] is None
    runner.feed(core.Start())
    runner.on_packet(box.advert_from_peer(200))
    assert runner.status() == {
        "state": "BACKUP",
        "interface": "eth0",
        "vrid": 50,
        "version": 2,
        "priority": 100,
        "effective_priority": 100,
        "vips": ["10.10.50.244"],
        "source": "10.10.50.62",
        "master": "10.10.50.65",
        "since": runner.since,
        "counters": {"accepted": 1, "to_backup": 1},
    }
    since = runner.since
    box.clock.advance(T0 + 10.0)
    status = runner.status()
    assert status["state"] == "MASTER" and status["master"] == "10.10.50.62"
    assert status["since"] >= since
    assert list(status["counters"]) == sorted(status["counters"])
    await runner.drain()
    runner.cancel_timers()
