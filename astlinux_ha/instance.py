"""One vrrp_instance at run time: feeds events to the pure state machine and carries out
the actions it returns against the network edge.

Sending an advert, arming a timer and logging happen at once, inside the event's callback.
Netlink work (VIPs, routes) and GARP bursts are awaited, so they run on a per-instance chain
that keeps their order: a GARP never goes out before the VIPs it announces are set, and a
removal never overtakes the addition it undoes. Nothing here blocks the loop.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from astlinux_ha.net import AddressManager, Announcer, Received, SocketKey, VrrpSocket
from astlinux_ha.net.conflict import ConflictWatcher
from astlinux_ha.params import InstancePlan
from astlinux_ha.scripts.notify import Notifier
from astlinux_ha.vrrp import ah, machine
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.packet import IPPROTO_VRRP, Advert, AuthType, PacketError, encode
from astlinux_ha.vrrp.ratelimit import RateLimiter
from astlinux_ha.vrrp.receive import Accepted, ReceiveParams, Rejected, check

# Bad-packet lines per peer and reason: at most one a minute, with a suppressed count.
BAD_PACKET_LOG_INTERVAL = 60.0
# Events are frozen: one per timer serves every expiry (a master's advert timer fires every
# interval, and building the event each time showed in the per-advert cost).
_EXPIRED = {timer: core.TimerExpired(timer) for timer in core.Timer}


@dataclass
class Shared:
    """The process-wide edge objects every instance uses."""

    addresses: AddressManager
    announcer: Announcer
    log: logging.Logger
    on_transition: Callable[[str, core.Transition, core.InstanceState], None]
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    # Called when what status.json shows changed without a transition (a backup learning
    # its master, a tracked script moving the priority).
    on_change: Callable[[], None] = lambda: None


def wall_clock() -> str:
    """Now as an ISO 8601 UTC timestamp, for status files and the journal."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class InstanceRunner:
    """Runs one instance: timers, adverts, VIPs, GARPs and notifies for its state machine.

    ``deliver`` hands events to the machine; with a sync group it is replaced by the group's
    dispatcher, which calls :meth:`apply` for every member it moves.
    """

    def __init__(
        self,
        plan: InstancePlan,
        params: core.InstanceParams,
        recv: ReceiveParams,
        sock: VrrpSocket,
        key: SocketKey,
        notifier: Notifier,
        shared: Shared,
    ) -> None:
        self.plan = plan
        self.params = params
        self.recv = recv
        self.sock = sock
        self.key = key
        self._multicast = key.mode.name == "MULTICAST"
        self.notifier = notifier
        self.shared = shared
        self.name = params.name
        self.state = core.InstanceState()
        self.since = wall_clock()
        self.counters: collections.Counter[str] = collections.Counter()
        self._timers: dict[core.Timer, asyncio.TimerHandle] = {}
        self._chain: asyncio.Future[None] | None = None
        self._limiter = RateLimiter(BAD_PACKET_LOG_INTERVAL)
        self._checksum_compat = False
        self._payloads: dict[tuple[int, Any, bool], bytes] = {}
        # priority -> (payload, sendmsg destination, peer) per target, once every target's
        # advert encoded: the whole send plan of an interval in one lookup.
        self._sends: dict[int, tuple[tuple[bytes, Any, Any], ...]] = {}
        # Split brain seen through ARP (see net/conflict.py): watchers while MASTER, one
        # pending confirmation per foreign MAC, MACs already reported in this mastership.
        self._watchers: list[ConflictWatcher] = []
        self._tenure = 0
        self._claims_pending: set[str] = set()
        self._claims_logged: set[str] = set()
        self._probe: asyncio.TimerHandle | None = None
        self._after_step: list[Callable[[], Awaitable[None]]] = []
        self.deliver: Callable[[core.Event], None] = self.feed
        # auth_type AH (params.socket_key's rule, so exactly when the socket is protocol 51):
        # the key, the sequence number shared by sending and receiving, and the IP ID, both
        # counted per instance from 1 as keepalived does (see vrrp/ah.py).
        uses_ah = recv.auth_type is AuthType.AH and recv.family == 4
        self._ah_key = recv.auth_password if uses_ah else None
        # unicast_ttl: the TTL of unicast adverts (keepalived's default is 255, as multicast).
        self._ttl = plan.config.unicast_ttl if not self._multicast else None
        self._protocol = ah.IPPROTO_AH if uses_ah else IPPROTO_VRRP
        self._seq = ah.SeqCounter()
        self._ip_id = 0

    # ------------------------------------------------------------ events in

    def feed(self, event: core.Event) -> None:
        """Step the machine with ``event`` now and carry out what it says."""
        now = self.shared.loop.time()
        state, actions = machine.step(self.params, self.state, event, now)
        self.apply(state, actions)

    def apply(self, state: core.InstanceState, actions: list[core.Action]) -> None:
        """Adopt ``state`` and carry out ``actions`` in order."""
        old = self.state
        self.state = state
        taking_over = state.role is core.Role.MASTER and old.role is not core.Role.MASTER
        if self._ah_key is not None and taking_over:
            self._seq = self._seq.became_master()  # before this step's first advert
        for action in actions:
            self._do(action)
        # Queued behind this step's VIP and GARP work: opening or closing the ARP watch
        # blocks the loop (see _watch_claims) and must not hold up the addresses.
        if self._after_step:
            after, self._after_step = self._after_step, []
            for job in after:
                self._then(job)
        if (old.master_address, old.priority) != (state.master_address, state.priority):
            self.shared.on_change()

    def on_packet(self, rec: Received) -> None:
        """A packet for our VRID arrived: check it as keepalived would, then feed it."""
        if rec.via != self._protocol:
            return  # the copy another kind of socket on this interface delivers too
        result = check(self.recv, rec.payload, rec.src, rec.dst, rec.ttl,
                       master=self.state.master_address, ah=rec.ah, ah_counter=self._seq)
        now = self.shared.loop.time()
        if result.ah_seq is not None:
            self._adopt_seq(result.ah_seq, result, rec.src)
        if not isinstance(result, Accepted):
            self.counters[result.reason.value] += 1
            self._log_limited((result.reason, rec.src), result.finding.message, now)
            return
        self.counters["accepted"] += 1
        for warning in result.warnings:
            self.counters[warning.reason.value] += 1
            self._log_limited((warning.reason, rec.src), warning.message, now)
        if result.checksum is not None and result.checksum.name == "MCAST_DST":
            if not self._checksum_compat:
                self._sends.clear()
            self._checksum_compat = True
        self.deliver(core.AdvertReceived(result.advert, rec.src))

    def _adopt_seq(self, seq: int, result: Accepted | Rejected, src: Any) -> None:
        # Before the machine sees the advert: a master that syncs past a lower priority's
        # number must send its answer with the number after it.
        role = self.state.role
        self._seq = self._seq.accepted(seq, backup=role is core.Role.BACKUP)
        if role is core.Role.MASTER and isinstance(result, Accepted):
            own = self.params.primary_address
            ours = self.state.priority or self.params.priority
            self._seq = ah.master_heard(self._seq, seq, result.advert.priority, ours,
                                        int(src) > int(own))

    def _log_limited(self, key: object, message: str, now: float) -> None:
        line = self._limiter.filter(key, message, now)
        if line is not None:
            self.shared.log.warning(line)

    def log_suppressed(self, now: float) -> None:
        """One summary line per rate-limit window that closed with lines held back (called
        periodically), so a flood that stops is still reported with its count."""
        for key, count in self._limiter.summaries(now):
            parts = key if isinstance(key, tuple) else (key,)
            what = getattr(parts[0], "value", parts[0])
            source = f" from {parts[1]}" if len(parts) > 1 and hasattr(parts[0], "value") else ""
            self.shared.log.warning("(%s) %d similar messages suppressed in the last %g s: %s%s",
                                    self.name, count, self._limiter.interval, what, source)

    # ------------------------------------------------------------ actions out

    def _do(self, action: core.Action) -> None:
        match action:
            case core.SendAdvert(priority=priority):
                self.send_advert(priority)
            case core.ArmTimer(timer=timer, at=at):
                self._arm(timer, at)
            case core.CancelTimer(timer=timer):
                handle = self._timers.pop(timer, None)
                if handle is not None:
                    handle.cancel()
            case core.Log(level=level, message=message):
                if level is core.Level.WARNING:
                    self.shared.log.warning(message)
                elif level is core.Level.DETAIL:
                    self.shared.log.debug(message)
                else:
                    self.shared.log.info(message)
            case core.AddVips():
                self._then(self._add_vips)
            case core.RemoveVips(force=force):
                self._then(lambda: self._remove_vips(force))
            case core.SendGratuitous(repeat=repeat):
                self._then(lambda: self._announce(repeat))
            case core.RunNotify(state=state, priority=priority):
                self.notifier.notify(state, priority)
            case core.Transition():
                self.since = wall_clock()
                self.counters[f"to_{action.to_role.value.lower()}"] += 1
                if action.to_role is core.Role.MASTER:
                    self._watch_claims()
                elif action.from_role is core.Role.MASTER:
                    self._stop_watching_claims(close_later=True)
                self.shared.on_transition(self.name, action, self.state)

    def _arm(self, timer: core.Timer, at: float) -> None:
        old = self._timers.pop(timer, None)
        if old is not None:
            old.cancel()
        self._timers[timer] = self.shared.loop.call_at(at, self._fire, timer)

    def _fire(self, timer: core.Timer) -> None:
        self._timers.pop(timer, None)
        self.deliver(_EXPIRED[timer])

    def send_advert(self, priority: int) -> None:
        """Send one advert (to the group, or once per unicast peer)."""
        if self._ah_key is not None:
            self._send_ah(priority)
            return
        sends = self._sends.get(priority)
        if sends is None:
            self._send_encoding(priority)
            return
        src = self.params.primary_address
        for payload, to, dst in sends:
            self._send_one(payload, to, dst, src)

    def _send_encoding(self, priority: int) -> None:
        # The first advert at this priority: encoded target by target, and the plan kept for
        # the next intervals once every target's advert could be built.
        p = self.params
        targets = p.unicast_peers or (self.recv.group,)
        multicast = self._multicast
        plan = []
        for dst in targets:
            payload = self._payload(priority, dst)
            if payload is None:
                continue
            to = None if multicast else dst
            plan.append((payload, to, dst))
            self._send_one(payload, to, dst, p.primary_address)
        if len(plan) == len(targets):
            if len(self._sends) > 16:
                self._sends.clear()
            self._sends[priority] = tuple(plan)

    def _send_ah(self, priority: int) -> None:
        # Every AH advert differs (sequence number, IP ID, ICV): only the VRRP message inside
        # is cached. One number and one ID per advert, whatever the number of peers.
        p = self.params
        self._seq = self._seq.to_send()
        self._ip_id = ah.next_ip_id(self._ip_id)
        key = self._ah_key or b""
        for dst in p.unicast_peers or (self.recv.group,):
            vrrp = self._payload(priority, dst)
            if vrrp is None:
                continue
            datagram = ah.build(vrrp, p.primary_address, dst, key=key, seq=self._seq.seq,
                                ip_id=self._ip_id, unicast=not self._multicast)
            self._send_one(datagram, None if self._multicast else dst, dst, p.primary_address)

    def _send_one(self, payload: bytes, to: Any, dst: Any, src: Any) -> None:
        error = self.sock.send(payload, dst=to, src=src, ttl=self._ttl)
        if error is None:
            self.counters["sent"] += 1
        else:
            self.counters["send_error"] += 1
            self._log_limited(("send", error.errno),
                              f"({self.name}) cannot send advert to {dst}: {error.message}",
                              self.shared.loop.time())

    def _payload(self, priority: int, dst: Any) -> bytes | None:
        # An advert only varies with the priority and destination (and the checksum variant a
        # peer asked for): encoding it once instead of every interval is most of the per-advert
        # cost at 200 instances.
        key = (priority, dst, self._checksum_compat)
        payload = self._payloads.get(key)
        if payload is not None:
            return payload
        p = self.params
        interval = p.adver_us // (1_000_000 if p.version == 2 else 10_000)
        auth_type = self.recv.auth_type if p.version == 2 else AuthType.NONE
        try:
            advert = Advert(
                version=p.version,
                vrid=p.vrid,
                priority=priority,
                interval=interval,
                addresses=p.vips,
                auth_type=auth_type,
                auth_data=self.recv.auth_password if auth_type is AuthType.PASS else b"",
            )
            payload = encode(advert, p.primary_address, dst,
                             checksum_as_v2=self.recv.checksum_as_v2,
                             mcast_group=self.recv.group if self._checksum_compat else None)
        except PacketError as exc:
            self.counters["send_error"] += 1
            self._log_limited(("encode",), f"({self.name}) cannot build advert: {exc}",
                              self.shared.loop.time())
            return None
        if len(self._payloads) > 16:
            self._payloads.clear()
        self._payloads[key] = payload
        return payload

    # ------------------------------------------------------------ netlink chain

    def _then(self, job: Callable[[], Awaitable[None]]) -> None:
        previous = self._chain

        async def run() -> None:
            if previous is not None:
                try:
                    await previous
                except asyncio.CancelledError:
                    pass
            await job()

        self._chain = asyncio.ensure_future(run())

    async def drain(self) -> None:
        """Wait for queued netlink work and GARPs (used at stop and in tests)."""
        while self._chain is not None and not self._chain.done():
            await asyncio.shield(self._chain)

    async def _add_vips(self) -> None:
        log = self.shared.log
        failures = await self.shared.addresses.add_vips([*self.plan.vips, *self.plan.excluded])
        failures += await self.shared.addresses.add_routes(list(self.plan.routes))
        for f in failures:
            log.error("(%s) cannot set %s: %s", self.name, f.item, f.reason)

    async def _remove_vips(self, force: bool) -> None:
        log = self.shared.log
        items = [*self.plan.vips, *self.plan.excluded]
        if force:
            # At start-up: addresses a crashed run left behind must not sit on two boxes.
            gone = await self.shared.addresses.remove_leftovers(items)
            for vip in gone:
                log.info("(%s) removed leftover VIP %s", self.name, vip.address)
            await self.shared.addresses.remove_routes(list(self.plan.routes))
            return
        failures = await self.shared.addresses.remove_routes(list(self.plan.routes))
        failures += await self.shared.addresses.remove_vips(items)
        for f in failures:
            log.error("(%s) cannot remove %s: %s", self.name, f.item, f.reason)

    async def _announce(self, repeat: int) -> None:
        if self.state.role is not core.Role.MASTER:
            return
        by_if: dict[str, list[Any]] = {}
        for vip in self.plan.vips:
            by_if.setdefault(vip.ifname, []).append(vip.address)
        for ifname, addrs in by_if.items():
            result = await self.shared.announcer.announce(ifname, addrs, repeat)
            self.counters["garp_sent"] += result.sent
            for err in result.errors:
                self.shared.log.warning("(%s) gratuitous ARP/NA on %s: %s", self.name, ifname,
                                        err)

    # ------------------------------------------------------------ split brain through ARP

    def _grace(self) -> float:
        # A normal handover settles within one advert interval: the old master hears our
        # first advert and drops the VIP in milliseconds. A claim that outlives it is a master
        # that does not hear us.
        return max(self.params.adver_us / 1_000_000, 0.05)

    def _watch_claims(self) -> None:
        """Watch ARP for other holders of our VIPs during this mastership.

        The watch opens once this step's VIPs are set and its GARPs sent (``apply`` queues it
        on the chain after them): binding an ARP packet socket waits for an RCU grace period
        in the kernel (synchronize_net, 8-25 ms), which, done here at once, blocked the loop
        between our first advert and the VIP add and delayed the clients' answers by as much.
        """
        self._stop_watching_claims(close_later=True)
        self._tenure += 1
        tenure = self._tenure

        async def open_watch() -> None:
            if tenure == self._tenure and self.state.role is core.Role.MASTER:
                self._open_watchers(tenure)

        self._after_step.append(open_watch)

    def _open_watchers(self, tenure: int) -> None:
        by_if: dict[str, list[ipaddress.IPv4Address]] = {}
        for vip in self.plan.vips:
            if isinstance(vip.address, ipaddress.IPv4Address):
                by_if.setdefault(vip.ifname, []).append(vip.address)
        for ifname, addrs in by_if.items():
            watcher = ConflictWatcher(
                ifname, addrs, lambda vip, mac: self._on_claim(vip, mac, tenure)
            )
            try:
                watcher.start()
            except OSError as exc:
                self.shared.log.warning(
                    "(%s) cannot watch ARP on %s: %s", self.name, ifname, exc.strerror or exc
                )
                continue
            self._watchers.append(watcher)
        source = self.params.primary_address
        if self._watchers and isinstance(source, ipaddress.IPv4Address) and int(source):
            self._probe = self.shared.loop.call_later(self._grace(), self._send_probe, source)

    def _send_probe(self, source: ipaddress.IPv4Address) -> None:
        self._probe = None
        for watcher in self._watchers:
            self.counters["arp_probe_sent"] += watcher.probe(source)

    def _on_claim(self, vip: ipaddress.IPv4Address, mac: str, tenure: int) -> None:
        if tenure != self._tenure:
            return  # a watcher of an ended mastership, not closed yet
        if mac in self._claims_pending or mac in self._claims_logged:
            return
        self._claims_pending.add(mac)
        self.shared.loop.call_later(self._grace(), self._confirm_claim, vip, mac, tenure)

    def _confirm_claim(self, vip: ipaddress.IPv4Address, mac: str, tenure: int) -> None:
        if tenure != self._tenure or self.state.role is not core.Role.MASTER:
            return  # we handed over meanwhile: that was the other side of a normal election
        self._claims_pending.discard(mac)
        self._claims_logged.add(mac)
        self.counters["split_brain"] += 1
        self.shared.log.warning(
            "(%s) split brain: %s is also held by %s, a master that does not hear our adverts "
            "(is VRRP blocked between them?)",
            self.name,
            vip,
            mac,
        )

    def _stop_watching_claims(self, close_later: bool = False) -> None:
        """End the ARP watch now; with ``close_later`` its sockets are closed on the chain,
        after the VIP work this step queued (closing one waits for an RCU grace period too)."""
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        watchers, self._watchers = self._watchers, []
        self._claims_pending.clear()
        self._claims_logged.clear()
        self._tenure += 1
        if not watchers:
            return
        if not close_later:
            for watcher in watchers:
                watcher.close()
            return

        async def close() -> None:
            for watcher in watchers:
                watcher.close()

        self._after_step.append(close)

    # ------------------------------------------------------------ life cycle

    def cancel_timers(self) -> None:
        """Drop every armed timer and the ARP watch (the instance is going away)."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._stop_watching_claims()

    def status(self) -> dict[str, Any]:
        """This instance's entry in status.json."""
        s = self.state
        return {
            "state": s.role.value,
            "interface": self.plan.config.interface,
            "vrid": self.params.vrid,
            "version": self.params.version,
            "priority": self.params.priority,
            "effective_priority": s.priority or self.params.priority,
            "vips": [str(v.address) for v in self.plan.vips],
            "source": str(self.params.primary_address),
            "master": str(self._master()) if self._master() else None,
            "since": self.since,
            "counters": dict(sorted(self.counters.items())),
        }

    def _master(self) -> object:
        if self.state.role is core.Role.MASTER:
            return self.params.primary_address
        if self.state.role is core.Role.BACKUP:
            return self.state.master_address
        return None
