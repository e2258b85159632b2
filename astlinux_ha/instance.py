"""One vrrp_instance at run time: feeds events to the pure state machine and carries out
the actions it returns against the network edge.

The decisions are the pure core's: :mod:`astlinux_ha.vrrp.machine` (the protocol),
:mod:`astlinux_ha.vrrp.adverts` (the datagrams to send), :mod:`astlinux_ha.vrrp.claims`
(split brain seen through ARP). This shell only calls the socket, the clock and the edges.

Sending an advert, arming a timer and logging happen at once, inside the event's callback.
Netlink work (VIPs, routes) and GARP bursts are awaited, so they run on a per-instance chain
that keeps their order: a GARP never goes out before the VIPs it announces are set, and a
removal never overtakes the addition it undoes. Nothing here blocks the loop.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from astlinux_ha.net import AddressManager, Announcer, Received, SocketKey, Vip, VrrpSocket
from astlinux_ha.net.conflict import ConflictWatcher
from astlinux_ha.net.nftables import Drop
from astlinux_ha.runtime import accept
from astlinux_ha.runtime.demux import Owned
from astlinux_ha.runtime.plan import InstancePlan
from astlinux_ha.runtime.ports import Clock, Handle, wall_clock
from astlinux_ha.runtime.ticks import AdvertTicks
from astlinux_ha.scripts.notify import Notifier
from astlinux_ha.vrrp import ah, claims, machine, timing
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.adverts import Adverts
from astlinux_ha.vrrp.packet import IPPROTO_VRRP
from astlinux_ha.vrrp.ratelimit import RateLimiter
from astlinux_ha.vrrp.receive import Accepted, ReceiveParams, check

# Bad-packet lines per peer and reason: at most one a minute, with a suppressed count.
BAD_PACKET_LOG_INTERVAL = 60.0
# Events are frozen: one per timer serves every expiry (a master's advert timer fires every
# interval, and building the event each time showed in the per-advert cost).
_EXPIRED = {timer: core.TimerExpired(timer) for timer in core.Timer}


class ArpWatch(Protocol):
    """What the instance needs of an ARP watcher (net/conflict.py's ConflictWatcher)."""

    def start(self) -> None: ...

    def probe(self, sender: ipaddress.IPv4Address) -> int: ...

    def close(self) -> None: ...


class FirewallPort(Protocol):
    """What the instance needs of the no_accept firewall (net/nftables.py's Firewall)."""

    async def block(self, owner: str, drops: Sequence[Drop]) -> None: ...

    async def unblock(self, owner: str) -> None: ...


ClaimCallback = Callable[[ipaddress.IPv4Address, str], None]
WatchFactory = Callable[[str, Iterable[ipaddress.IPv4Address], ClaimCallback], ArpWatch]


def watch_arp(ifname: str, vips: Iterable[ipaddress.IPv4Address],
              on_claim: ClaimCallback) -> ArpWatch:
    """The daemon's ARP watcher on ``ifname`` (not started)."""
    return ConflictWatcher(ifname, vips, on_claim)


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
    # Every time read and timer armed by an instance (None: ``loop``); tests pass their own.
    clock: Clock = None  # type: ignore[assignment]
    # Makes the split-brain ARP watchers: (ifname, IPv4 VIPs, on_claim) -> watcher.
    conflicts: WatchFactory = watch_arp
    # no_accept's drop rules (None: none are set, as in tests without a firewall).
    firewall: FirewallPort | None = None
    # The masters' periodic adverts, one loop timer per advert interval (made on ``clock``).
    ticks: AdvertTicks = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.clock is None:
            self.clock = self.loop
        if self.ticks is None:
            self.ticks = AdvertTicks(self.clock)


class InstanceRunner:
    """Runs one instance: timers, adverts, VIPs, GARPs and notifies for its state machine.

    ``deliver`` hands events to the machine; with a sync group it is replaced by the group's
    dispatcher, which calls :meth:`apply` for every member it moves.
    """

    __slots__ = ("plan", "params", "recv", "sock", "sender", "key", "notifier", "shared", "name",
                 "state", "since", "counters", "_timers", "_chain", "_limiter", "_adverts",
                 "_protocol", "_interval", "_ttl", "_claims", "_watchers", "_probe",
                 "_after_step", "deliver", "holding")

    def __init__(
        self,
        plan: InstancePlan,
        params: core.InstanceParams,
        recv: ReceiveParams,
        sock: VrrpSocket,
        key: SocketKey,
        notifier: Notifier,
        shared: Shared,
        sender: VrrpSocket | None = None,
    ) -> None:
        self.plan = plan
        self.params = params
        self.recv = recv
        self.sock = sock
        # use_vmac: adverts leave from the macvlan (the virtual MAC as their Ethernet
        # source) while they are received on ``sock``, the base's.
        self.sender = sender
        self.key = key
        multicast = key.mode.name == "MULTICAST"
        self.notifier = notifier
        self.shared = shared
        self.name = params.name
        self.state = core.InstanceState()
        self.since = wall_clock()
        self.counters: collections.Counter[str] = collections.Counter()
        self._timers: dict[core.Timer, Handle] = {}
        self._chain: asyncio.Future[None] | None = None
        self._limiter = RateLimiter(BAD_PACKET_LOG_INTERVAL)
        self._adverts = Adverts(params, recv, multicast=multicast)
        self._protocol = ah.IPPROTO_AH if self._adverts.ah else IPPROTO_VRRP
        self._interval = timing.seconds(params.adver_us)
        # unicast_ttl: the TTL of unicast adverts (keepalived's default is 255, as multicast).
        self._ttl = plan.config.unicast_ttl if not multicast else None
        # Split brain seen through ARP (see net/conflict.py): the watchers of this mastership
        # and its probe; what their claims mean is the tracker's.
        self._claims = claims.ClaimTracker(self.name, params.adver_us)
        self._watchers: list[ArpWatch] = []
        self._probe: Handle | None = None
        self._after_step: list[Callable[[], Awaitable[None]]] = []
        self.deliver: Callable[[core.Event], None] = self.feed
        # True from the moment this mastership's VIPs and routes are set until the machine
        # removes them: only then is one deleted from the box ours to put back (lost()).
        self.holding = False

    # ------------------------------------------------------------ events in

    def feed(self, event: core.Event) -> None:
        """Step the machine with ``event`` now and carry out what it says."""
        state, actions = machine.step(self.params, self.state, event, self.shared.clock.time())
        self.apply(state, actions)

    def apply(self, state: core.InstanceState, actions: list[core.Action]) -> None:
        """Adopt ``state`` and carry out ``actions`` in order."""
        old = self.state
        self.state = state
        if state.role is core.Role.MASTER and old.role is not core.Role.MASTER:
            self._adverts.became_master()  # before this step's first advert
        for action in actions:
            self._do(action)
        # Queued behind this step's VIP and GARP work: opening or closing the ARP watch
        # blocks the loop (see _open_watch) and must not hold up the addresses.
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
        adverts = self._adverts
        result = check(self.recv, rec.payload, rec.src, rec.dst, rec.ttl,
                       master=self.state.master_address, ah=rec.ah, ah_counter=adverts.seq)
        now = self.shared.clock.time()
        if result.ah_seq is not None:
            heard = result.advert.priority if isinstance(result, Accepted) else None
            adverts.adopt_seq(result.ah_seq, role=self.state.role,
                              priority=self.state.priority or self.params.priority,
                              heard=heard, src=rec.src)
        if not isinstance(result, Accepted):
            self.counters[result.reason.value] += 1
            self._log_limited((result.reason, rec.src), result.finding.message, now)
            return
        self.counters["accepted"] += 1
        for warning in result.warnings:
            self.counters[warning.reason.value] += 1
            self._log_limited((warning.reason, rec.src), warning.message, now)
        if result.checksum is not None and result.checksum.name == "MCAST_DST":
            adverts.peer_uses_old_checksum()
        self.deliver(core.AdvertReceived(result.advert, rec.src))

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
                old = self._timers.pop(timer, None)
                if old is not None and timer is not core.Timer.ADVERT:
                    old.cancel()  # the advert tick moves its own deadline
                if timer is core.Timer.ADVERT:
                    self._timers[timer] = self.shared.ticks.call_at(
                        self, self._interval, at, self._advert_due)
                else:
                    self._timers[timer] = self.shared.clock.call_at(at, self._fire, timer)
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
                self._block()
                self._then(self._add_vips)
            case core.RemoveVips(force=force):
                self.holding = False  # before the removal: its own deletions are not losses
                self._then(lambda: self._remove_vips(force))
                if not force:
                    self._unblock()
            case core.SendGratuitous(repeat=repeat):
                self._then(lambda: self._announce(repeat))
            case core.RunNotify(state=state, priority=priority):
                self.notifier.notify(state, priority)
            case core.Transition():
                self.since = wall_clock()
                self.counters[f"to_{action.to_role.value.lower()}"] += 1
                if action.to_role is core.Role.MASTER:
                    self._claim_actions(self._claims.became_master())
                elif action.from_role is core.Role.MASTER:
                    self._claim_actions(self._claims.left_master(later=True))
                self.shared.on_transition(self.name, action, self.state)

    def _fire(self, timer: core.Timer) -> None:
        self._timers.pop(timer, None)
        self.deliver(_EXPIRED[timer])

    def _advert_due(self) -> None:
        """The shared tick says this master's periodic advert is due."""
        self._timers.pop(core.Timer.ADVERT, None)
        if self.deliver != self.feed:
            # A sync group's member: its rules see every event.
            self.deliver(_EXPIRED[core.Timer.ADVERT])
            return
        at = machine.advert_tick(self.params, self.state, self.shared.clock.time())
        if at is None:
            return
        self.send_advert(self.state.priority)
        self._timers[core.Timer.ADVERT] = self.shared.ticks.call_at(
            self, self._interval, at, self._advert_due)

    def send_advert(self, priority: int) -> None:
        """Send one advert (to the group, or once per unicast peer)."""
        sends = self._adverts.sends(priority)
        for reason in sends.errors:
            self.counters["send_error"] += 1
            self._log_limited(("encode",), reason, self.shared.clock.time())
        src = self.params.primary_address
        sock = self.sender or self.sock
        for payload, to, dst in sends.datagrams:
            error = sock.send(payload, dst=to, src=src, ttl=self._ttl)
            if error is None:
                self.counters["sent"] += 1
            else:
                self.counters["send_error"] += 1
                self._log_limited(("send", error.errno),
                                  f"({self.name}) cannot send advert to {dst}: {error.message}",
                                  self.shared.clock.time())

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

        task = asyncio.ensure_future(run())
        task.add_done_callback(self._chain_done)
        self._chain = task

    def _chain_done(self, task: asyncio.Future[None]) -> None:
        # A finished chain is dropped, not kept until the next job: its task, coroutine and
        # entry in asyncio's task set were ~0.8 KiB an instance at rest.
        if self._chain is task:
            self._chain = None

    async def drain(self) -> None:
        """Wait for queued netlink work and GARPs (used at stop and in tests)."""
        while self._chain is not None and not self._chain.done():
            await asyncio.shield(self._chain)

    def _block(self, extra: list[Vip] | tuple[Vip, ...] = ()) -> None:
        """no_accept: queue the drop rule for this mastership's VIPs (and ``extra`` ones),
        ahead of the VIPs themselves (keepalived's order: no packet to a VIP is taken in)."""
        firewall = self.shared.firewall
        drops = accept.drops(self.plan.config,
                             [*self.plan.vips, *self.plan.excluded, *extra])
        if firewall is not None and drops:
            self._then(lambda: firewall.block(self.name, drops))

    def _unblock(self) -> None:
        """Queue the end of this instance's drop rule, after its VIPs are gone (a no-op for
        the firewall when it set none: whether the block queued before ran is its to know)."""
        firewall = self.shared.firewall
        if firewall is not None:
            self._then(lambda: firewall.unblock(self.name))

    async def _add_vips(self) -> None:
        log = self.shared.log
        failures = await self.shared.addresses.add_vips([*self.plan.vips, *self.plan.excluded])
        failures += await self.shared.addresses.add_routes(list(self.plan.routes))
        self.holding = self.state.role is core.Role.MASTER
        for f in failures:
            log.error("(%s) cannot set %s: %s", self.name, f.item, f.reason)

    def lost(self, owned: Owned) -> None:
        """One of our VIPs or routes was deleted from the box (``ip addr del``): as master
        holding it, step down and take over again (keepalived's set_vrrp_backup)."""
        if not self.holding or self.state.role is not core.Role.MASTER:
            return  # our own removal, or nothing of ours to put back

        async def check() -> None:
            # After the netlink work queued before it: a deletion reported late, from our
            # own remove-then-add, finds the VIP back and is no loss.
            item = owned.item
            if isinstance(item, Vip):
                if await self.shared.addresses.present_vips([item]):
                    return
                self.shared.log.debug("Netlink reflector reports IP %s removed from %s",
                                      item.address, item.ifname)
            if self.holding and self.state.role is core.Role.MASTER:
                self.deliver(core.VirtualDeleted(owned.what))

        self._then(check)

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

    async def _announce(self, repeat: int, vips: Sequence[Vip] | None = None) -> None:
        if self.state.role is not core.Role.MASTER:
            return
        by_if: dict[str, list[Any]] = {}
        # keepalived announces the excluded VIPs with the VIPs (vrrp_send_link_update).
        for vip in (*self.plan.vips, *self.plan.excluded) if vips is None else vips:
            by_if.setdefault(vip.ifname, []).append(vip.address)
        for ifname, addrs in by_if.items():
            result = await self.shared.announcer.announce(ifname, addrs, repeat)
            self.counters["garp_sent"] += result.sent
            for err in result.errors:
                self.shared.log.warning("(%s) gratuitous ARP/NA on %s: %s", self.name, ifname,
                                        err)

    # ------------------------------------------------------------ split brain through ARP

    def _claim_actions(self, actions: list[claims.ClaimAction]) -> None:
        clock = self.shared.clock
        for action in actions:
            match action:
                case claims.OpenWatch(tenure=tenure):
                    self._after_step.append(lambda: self._open_watch(tenure))
                case claims.CloseWatch(later=later):
                    self._close_watch(later)
                case claims.ArmProbe(at=at, source=source):
                    self._probe = clock.call_at(at, self._send_probe, source)
                case claims.ArmConfirm(vip=vip, mac=mac, tenure=tenure, at=at):
                    clock.call_at(at, self._confirm_claim, vip, mac, tenure)
                case claims.SplitBrain(message=message):
                    self.counters["split_brain"] += 1
                    self.shared.log.warning(message)

    async def _open_watch(self, tenure: int) -> None:
        """Watch ARP for other holders of our VIPs during this mastership.

        The watch opens once this step's VIPs are set and its GARPs sent (``apply`` queues it
        on the chain after them): binding an ARP packet socket waits for an RCU grace period
        in the kernel (synchronize_net, 8-25 ms), which, done at the transition, blocked the
        loop between our first advert and the VIP add and delayed the clients' answers by as
        much.
        """
        if not self._claims.may_open(tenure, self.state.role is core.Role.MASTER):
            return
        vips = claims.watched((vip.ifname, vip.address) for vip in self.plan.vips)
        for ifname, addrs in vips.items():
            watcher = self.shared.conflicts(
                ifname, addrs, lambda vip, mac: self._on_claim(vip, mac, tenure))
            try:
                watcher.start()
            except OSError as exc:
                self.shared.log.warning(
                    "(%s) cannot watch ARP on %s: %s", self.name, ifname, exc.strerror or exc
                )
                continue
            self._watchers.append(watcher)
        self._claim_actions(self._claims.opened(len(self._watchers), self.params.primary_address,
                                                self.shared.clock.time()))

    def _send_probe(self, source: ipaddress.IPv4Address) -> None:
        self._probe = None
        for watcher in self._watchers:
            self.counters["arp_probe_sent"] += watcher.probe(source)

    def _on_claim(self, vip: ipaddress.IPv4Address, mac: str, tenure: int) -> None:
        self._claim_actions(self._claims.claim(vip, mac, tenure, self.shared.clock.time()))

    def _confirm_claim(self, vip: ipaddress.IPv4Address, mac: str, tenure: int) -> None:
        master = self.state.role is core.Role.MASTER
        self._claim_actions(self._claims.confirm(vip, mac, tenure, master))

    def _close_watch(self, later: bool) -> None:
        """End the ARP watch now; ``later``, its sockets are closed on the chain, after the
        VIP work this step queued (closing one waits for an RCU grace period too)."""
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        watchers, self._watchers = self._watchers, []
        if not later:
            for watcher in watchers:
                watcher.close()
            return

        async def close() -> None:
            for watcher in watchers:
                watcher.close()

        self._after_step.append(close)

    # ------------------------------------------------------------ life cycle

    def update(self, plan: InstancePlan, params: core.InstanceParams,
               recv: ReceiveParams) -> None:
        """A reload changed only what the instance holds (VIPs, excluded VIPs, routes): take
        the new plan in its state, as keepalived does (no notify, no gap). A master deletes
        what was dropped, adds what is new and announces the new VIPs; the advert, which
        lists the VIPs, is built anew (the AH counters and checksum choice carry over)."""
        old_items = [*self.plan.vips, *self.plan.excluded]
        new_items = [*plan.vips, *plan.excluded]
        gone = [v for v in old_items if v not in new_items]
        added = [v for v in new_items if v not in old_items]
        gone_routes = [r for r in self.plan.routes if r not in plan.routes]
        new_routes = [r for r in plan.routes if r not in self.plan.routes]
        announce = [v for v in plan.vips if v not in self.plan.vips]
        old_adverts = self._adverts
        self.plan, self.params, self.recv = plan, params, recv
        interval = timing.seconds(params.adver_us)
        if interval != self._interval:
            # The advert deadline moves to the new interval's grid (when Reload re-arms it).
            handle = self._timers.pop(core.Timer.ADVERT, None)
            if handle is not None:
                handle.cancel()
            self._interval = interval
        self._adverts = Adverts(params, recv, multicast=old_adverts.multicast)
        self._adverts.seq = old_adverts.seq
        self._adverts.ip_id = old_adverts.ip_id
        self._adverts.checksum_compat = old_adverts.checksum_compat
        # A master not yet holding is still setting the old VIPs (the add is on the chain,
        # perhaps under way with the old list): the swap queued after it fixes the set.
        if self.state.role is core.Role.MASTER:
            addresses = self.shared.addresses
            self.holding = False  # our own deletions below are not losses

            async def swap() -> None:
                failures = []
                if gone_routes:
                    failures += await addresses.remove_routes(gone_routes)
                if gone:
                    failures += await addresses.remove_vips(gone)
                if added:
                    failures += await addresses.add_vips(added)
                if new_routes:
                    failures += await addresses.add_routes(new_routes)
                self.holding = self.state.role is core.Role.MASTER
                for f in failures:
                    self.shared.log.error("(%s) cannot update %s: %s", self.name, f.item,
                                          f.reason)

            # no_accept: the rule covers old and new addresses while they change hands, so
            # none of them answers for a moment, then follows the new set.
            self._block(extra=gone)
            self._then(swap)
            self._block()
            if announce:
                self._then(lambda: self._announce(self.params.garp.master_repeat, announce))
        # The machine takes the new params: a master advertises the new VIP list at once.
        self.deliver(core.Reload())

    def cancel_timers(self) -> None:
        """Drop every armed timer and the ARP watch (the instance is going away)."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._claim_actions(self._claims.left_master(later=False))

    def status(self) -> dict[str, Any]:
        """This instance's entry in status.json."""
        s = self.state
        master = self._master()
        return {
            "state": s.role.value,
            "interface": self.plan.config.interface,
            "vrid": self.params.vrid,
            "version": self.params.version,
            "priority": self.params.priority,
            "effective_priority": s.priority or self.params.priority,
            "vips": [str(v.address) for v in self.plan.vips],
            "source": str(self.params.primary_address),
            "master": str(master) if master else None,
            "since": self.since,
            "counters": dict(sorted(self.counters.items())),
        }

    def _master(self) -> object:
        if self.state.role is core.Role.MASTER:
            return self.params.primary_address
        if self.state.role is core.Role.BACKUP:
            return self.state.master_address
        return None
