"""Everything one daemon runs on its loop: instances, sockets, link events, track scripts,
notifies, sync groups, the state dir, and what SIGHUP / SIGUSR1 / SIGUSR2 / SIGTERM do.

A shell: what to do is decided in :mod:`astlinux_ha.runtime` (plans, the reload rule, the
demux, the records, the signal flags); this module carries it out through the edges it is
given (:class:`~astlinux_ha.runtime.ports.Edges`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Iterable
from typing import Any

from astlinux_ha.config import model as cfg
from astlinux_ha.config_load import in_thread, load_config
from astlinux_ha.instance import InstanceRunner, Shared
from astlinux_ha.memory import clear_type_cache, settle_heap, tidy_after_change
from astlinux_ha.net import AddressEvent, LinkEvent, Received
from astlinux_ha.net.links import RouteEvent
from astlinux_ha.options import Options
from astlinux_ha.preflight.script_security import check_scripts
from astlinux_ha.runtime import plan as P
from astlinux_ha.runtime import records
from astlinux_ha.runtime.demux import (
    Demux,
    Owned,
    address_event,
    link_event,
    route_owners,
    track_event,
    vip_owners,
)
from astlinux_ha.runtime.plan import HostFacts, ScriptPlan
from astlinux_ha.runtime.ports import Edges, Handle
from astlinux_ha.runtime.reload import plan_reload
from astlinux_ha.runtime.signals import Farewell, Hup, Signals, farewell
from astlinux_ha.scripts.track import TrackStatus
from astlinux_ha.scripts.users import UserLookupError
from astlinux_ha.state import DATA_FILE, STATS_FILE
from astlinux_ha.sync_group import SyncGroupRunner
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.tracking import TrackKind

# status.json: changes within this many seconds are written once.
STATUS_COALESCE = 0.05
# Counter-only refreshes of status.json, in seconds.
COUNTERS_EVERY = 10
# The housekeeping tick (status retries, log summaries, counters, heap tidying) runs in the
# first advert wake-up at least HOUSEKEEPING_MIN after the last one, or on its own timer at
# HOUSEKEEPING_MAX: about once a second (1.5 s at most). After its own timer the next wake-up
# only has to be HOUSEKEEPING_CATCH away: any 1 s advert grid has a beat within
# [CATCH, MAX), so one own-timer tick at most puts it back on the beat (with 0.9 alone an
# advert landing just before it missed several times in a row), and ticks stay at least
# 0.5 s apart (the heap is tidied on the ticks after a change, TIDY_TICKS).
HOUSEKEEPING_MIN = 0.9
HOUSEKEEPING_MAX = 1.5
HOUSEKEEPING_CATCH = HOUSEKEEPING_MAX - 1.0
# After a change (transition, link event, status write), the heap is tidied on this many of
# the following 1 s ticks: the netlink work a transition starts may finish after the first one
# (see astlinux_ha.memory).
TIDY_TICKS = 2
# keepalived waits this long for STOP notifies and children when it exits.
STOP_GRACE = 1.0


class Runtime:
    """What one loaded config runs: instances, groups, scripts. Replaced whole on reload,
    except instances carried over unchanged."""

    def __init__(self, config: cfg.Config, problems: tuple[str, ...] = ()) -> None:
        self.config = config
        # What reading the config found (FILE:LINE lines), then what judging its scripts did:
        # logged once, and kept in status.json so `service keepalived status` can say so.
        self.problems = problems
        self.runners: dict[str, InstanceRunner] = {}
        self.groups: dict[str, SyncGroupRunner] = {}
        self.tracks: dict[str, Any] = {}
        self.fifos: list[Any] = []
        # (kind, name) -> the instances tracking it, built on the first event after a change
        # of runners: walking every instance's tracks per event made each of a 200-instance
        # takeover's address events cost O(instances).
        self._tracking: dict[tuple[TrackKind, str], tuple[str, ...]] | None = None

    def add(self, name: str, runner: InstanceRunner) -> None:
        """Run ``runner`` as instance ``name``."""
        self.runners[name] = runner
        self._tracking = None

    def tracking(self, kind: TrackKind, name: str) -> tuple[str, ...]:
        """The instances that track ``kind`` ``name``, in the runners' order."""
        if self._tracking is None:
            index: dict[tuple[TrackKind, str], dict[str, None]] = {}
            for inst, runner in self.runners.items():
                for spec in runner.params.tracks:
                    index.setdefault((spec.kind, spec.name), {})[inst] = None
            self._tracking = {key: tuple(names) for key, names in index.items()}
        return self._tracking.get((kind, name), ())

    def notifiers(self, names: Iterable[str] | None = None) -> list[Any]:
        """The notifiers of instances ``names`` (all by default), then every group's."""
        chosen = self.runners if names is None else names
        return [*(self.runners[n].notifier for n in chosen),
                *(g.notifier for g in self.groups.values())]


class _AfterClean:
    """The no_accept firewall as the instances see it: none of their rules is set (or
    lifted) before the start's removal of a crashed run's tables has run."""

    def __init__(self, sup: Supervisor, firewall: Any) -> None:
        self._sup = sup
        self._firewall = firewall

    async def block(self, owner: str, drops: Any) -> None:
        """As the firewall's, once the leftovers are gone."""
        await self._sup.cleaned()
        await self._firewall.block(owner, drops)

    async def unblock(self, owner: str) -> None:
        """As the firewall's, once the leftovers are gone."""
        await self._sup.cleaned()
        await self._firewall.unblock(owner)


class Supervisor:
    """Owns the edge objects and the current :class:`Runtime`; the daemon's signal handlers
    call its ``request_*`` and ``dump_*`` methods."""

    def __init__(self, options: Options, config: cfg.Config, log: logging.Logger,
                 problems: tuple[str, ...] = (), edges: Edges | None = None) -> None:
        self.options = options
        self.log = log
        self.edges = edges or Edges.real()
        self.state_dir = self.edges.state_dir(options.state_dir, log)
        self.runtime = Runtime(config, problems)
        self.signals = Signals()
        self._stop = asyncio.Event()
        self._reloading: asyncio.Task[None] | None = None
        self._loading: asyncio.Future[Any] | None = None
        self.started = self.edges.wall_clock()
        self.reloads = 0
        self.demux = Demux()
        self._status_due = False
        self._written_counters = 0
        self._tidy_ticks = 0
        self._ticks = 0
        self._house_due = 0.0
        self._house_handle: Handle | None = None

    @property
    def counters(self) -> dict[str, int]:
        """Packets no instance could take (too short to carry a VRID, a VRID we do not run)."""
        return self.demux.counters

    # ------------------------------------------------------------ main

    async def serve(self) -> None:
        """Start everything, run until asked to stop, then stop cleanly."""
        e = self.edges
        self.state_dir.prepare()
        self.clock = e.clock()
        self.netlink = e.netlink()
        g = self.runtime.config.global_defs
        self.firewall = e.firewall(self.log) if e.firewall is not None else None
        self.vmacs = e.vmacs(self.netlink) if e.vmacs is not None else None
        self._cleaning: asyncio.Future[None] | None = None
        self.shared = Shared(addresses=e.addresses(self.netlink),
                             announcer=e.announcer(g.garp.interval, g.garp.na_interval),
                             log=self.log, on_transition=self._on_transition,
                             on_change=self._status_changed, conflicts=e.conflicts,
                             firewall=None if self.firewall is None else _AfterClean(
                                 self, self.firewall))
        self.pool = e.sockets(self._on_packet)
        self.watcher = e.links(self._on_link)
        # Links first: an instance's Start reads its interface's state from the watcher, and an
        # unknown link would count as down (FAULT (init), then BACKUP a moment later).
        await self.watcher.start()
        delay = g.vrrp_startup_delay
        if delay > 0:
            self._write_status()  # the daemon runs, with no instance yet
        if delay > 0 and await self._stopped_within(delay):
            await self.watcher.close()
            self.netlink.close()
            self.log.info("Stopped VRRP")
            return
        if self.firewall is not None:
            # A crashed run's no_accept rules: nft runs (~12 ms) while the instances start,
            # and an instance's own rules wait for it (_AfterClean).
            self._cleaning = asyncio.ensure_future(self.firewall.clean())
            self._cleaning.add_done_callback(self._cleaned)
        await self._start_runtime(self.runtime, keep={})
        self._write_status()
        settle_heap()
        self.shared.ticks.after_fire.append(self._after_adverts)
        self._arm_housekeeping(self.clock.time())
        try:
            await self._stop.wait()
        finally:
            if self._house_handle is not None:
                self._house_handle.cancel()
            if self._reloading is not None:
                if self.signals.cancels_reload():
                    # Still parsing: a stop does not wait for a config it will never run.
                    self._reloading.cancel()
                await asyncio.gather(self._reloading, return_exceptions=True)
            await self._stop_runtime(self.runtime, shutdown=True)
            if self.firewall is not None:
                await self.cleaned()
                await self.firewall.close()
            await self.watcher.close()
            self.pool.close()
            self.netlink.close()
            # Frozen objects are skipped by the interpreter's last collection at exit.
            gc.unfreeze()
            self.log.info("Stopped VRRP")

    def _cleaned(self, task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("cannot remove leftover no_accept tables: %s", task.exception())

    async def cleaned(self) -> None:
        """Until the start's removal of leftover firewall tables is over (if it began).

        Once it is, this returns without yielding to the loop: an instance's rule then goes
        out in the same step as before, in the same order among the instances' netlink work.
        """
        if self._cleaning is not None and not self._cleaning.done():
            await asyncio.gather(asyncio.shield(self._cleaning), return_exceptions=True)

    async def _stopped_within(self, delay: float) -> bool:
        """vrrp_startup_delay: nothing runs (no socket, no advert, no VIP) for ``delay``
        seconds, as keepalived holds its instances back; True when a stop came meanwhile."""
        self.log.info("Delaying startup for %g seconds", delay)
        try:
            await asyncio.wait_for(self._stop.wait(), delay)
        except TimeoutError:
            return False
        return True

    def request_stop(self) -> None:
        """SIGTERM/SIGINT."""
        self.log.info("Stopping")
        self.signals.stop()
        self._stop.set()
        # A reload in progress may be draining the notifies of instances it stops: from now
        # on nothing but STOP scripts is waited for, there as at the stop itself.
        for notifier in self.runtime.notifiers():
            notifier.hurry()

    def request_reload(self) -> None:
        """SIGHUP: reload, coalescing a burst of signals into one more reload at most."""
        if self.signals.hup() is Hup.START:
            self._reloading = asyncio.get_running_loop().create_task(self._reload())

    # A wake-up of the loop costs a Python daemon far more than the work of a tick (~2 ms on
    # a small VM, against ~15 us an advert): the housekeeping rides on the adverts' wake-ups
    # (AdvertTicks.after_fire) and has a timer of its own only for when none comes.
    def _arm_housekeeping(self, last: float, gap: float = HOUSEKEEPING_MIN) -> None:
        self._house_due = last + gap
        if self._house_handle is not None:
            self._house_handle.cancel()
        self._house_handle = self.clock.call_at(last + HOUSEKEEPING_MAX, self._housekeeping)

    def _after_adverts(self) -> None:
        if self.clock.time() >= self._house_due:
            self._tick()
            self._arm_housekeeping(self.clock.time())

    def _housekeeping(self) -> None:
        """The own timer: no advert wake-up came in time."""
        self._tick()
        self._arm_housekeeping(self.clock.time(), HOUSEKEEPING_CATCH)

    def _tick(self) -> None:
        # A status write that failed on a full tmpfs is retried until it lands. Counters move
        # with every advert: re-encoding status.json for them every second was half of the
        # daemon's CPU at 200 instances, so they are refreshed every COUNTERS_EVERY seconds
        # (SIGUSR2 dumps them at once).
        self._ticks += 1
        now = self.clock.time()
        for runner in self.runtime.runners.values():
            runner.log_suppressed(now)
        if self._ticks % COUNTERS_EVERY == 0 and self._counters() != self._written_counters:
            # Counters only: nothing changed hands, so no full collection follows (it walks
            # the whole young heap); the timestamp's names still leave the type cache.
            self._write_status(tidy=False)
            clear_type_cache()
        self.state_dir.flush()
        if self._tidy_ticks:
            # What this change's netlink work left (pyroute2's messages, names in the type
            # cache) is released now, so failovers do not grow the heap.
            self._tidy_ticks -= 1
            tidy_after_change()

    def _counters(self) -> int:
        # Every counter only ever grows, so their sum moves whenever one does: no copy of
        # every runner's counters is kept to compare with (~0.3 KiB an instance).
        return sum(sum(r.counters.values()) for r in self.runtime.runners.values())

    def _status_changed(self) -> None:
        # Coalesced: a burst of changes (200 instances starting) costs one write, not one
        # full status.json per instance.
        if not self._status_due:
            self._status_due = True
            self.clock.call_later(STATUS_COALESCE, self._write_status)

    # ------------------------------------------------------------ building

    async def _start_runtime(self, rt: Runtime, keep: dict[str, InstanceRunner],
                             scripts: ScriptPlan | None = None) -> None:
        config = rt.config
        if scripts is None:
            scripts = ScriptPlan.from_report(config, check_scripts(config))
        rt.problems += tuple(p.render() for p in scripts.report.problems)
        for line in rt.problems:
            self.log.warning(line)
        self._umask = umask = self.options.umask_for(config)
        rt.fifos = await self._open_fifos(P.fifos(config, scripts), umask)
        # Each interface is read once per start or reload, not once per instance: 200
        # instances on eth0 made 600 netlink dumps of the same interface (issue 16).
        interfaces: dict[str, Any] = {}
        for inst in config.instances:
            runner = keep.get(inst.name)
            if runner is not None:
                # Kept for its state, never for its scripts: today's verdicts, today's FIFOs.
                runner.notifier.rescript(scripts.notify_scripts(inst.notifies), rt.fifos)
            else:
                runner = await self._build_runner(config, inst, scripts, rt.fifos, interfaces)
                if runner is None:
                    continue
            rt.add(inst.name, runner)
        for group, members in P.groups(config, rt.runners):
            notifier = self.edges.notifier("GROUP", group.name, scripts.notify_scripts(
                group.notifies), fifos=rt.fifos, umask=umask)
            rt.groups[group.name] = SyncGroupRunner(
                group, [rt.runners[n] for n in members], notifier, self.log, self.clock)
        tracked = [t for r in rt.runners.values() for t in r.params.tracks]
        for spec in P.track_scripts(config, scripts, tracked):
            rt.tracks[spec.name] = self.edges.track_script(spec, self._on_track, umask=umask)
        self.demux.reindex((n, r.key.ifname, r.key.family, r.params.vrid)
                           for n, r in rt.runners.items())
        facts = self._host_facts(t.name for t in tracked if t.kind is TrackKind.INTERFACE)
        starts = {name: core.Start(down=P.initial_down(config, runner.params.tracks,
                                                       rt.tracks, facts))
                  for name, runner in rt.runners.items() if name not in keep}
        group_of = {n: g for g in rt.groups.values() for n in g.members}
        for name, start in starts.items():
            owner = group_of.pop(name, None)
            if owner is not None and all(n in starts for n in owner.members):
                owner.announce_start({n: starts[n] for n in owner.members})
                for n in owner.members:
                    group_of.pop(n, None)
            rt.runners[name].deliver(start)
        for track in rt.tracks.values():
            track.start()

    def _host_facts(self, links: Iterable[str]) -> HostFacts:
        """What the link watcher knows now: which of ``links`` are up, the addresses present."""
        up = frozenset(n for n in links if (ev := self.watcher.link(n)) is not None and ev.up)
        return HostFacts(up, frozenset(str(a) for a, _ in self.watcher.addresses(None)))

    async def _build_runner(self, config: cfg.Config, inst: cfg.VrrpInstance,
                            scripts: ScriptPlan, fifos: list[Any],
                            interfaces: dict[str, Any]) -> InstanceRunner | None:
        plan = P.plan(config, inst, scripts.usable)
        source = await self._source_for(inst, plan, interfaces)
        if plan.vmac is not None and not await self._open_vmac(inst.name, plan.vmac):
            return None
        key = P.socket_key(inst, source)
        recv = P.receive_params(config, plan)
        try:
            sock = self.pool.acquire(key, None if inst.unicast_peers else recv.group)
        except OSError as exc:
            self.log.error("(%s) cannot open VRRP socket on %s: %s - instance disabled",
                           inst.name, key.ifname, exc.strerror or exc)
            if plan.vmac is not None and self.vmacs is not None:
                await self.vmacs.remove(plan.vmac)
            return None
        sender = None
        if (via := P.vmac_sender(plan)) is not None and self.vmacs is not None:
            try:
                sender = self.vmacs.sender(via, key, recv.group)
            except OSError as exc:
                self.log.warning("(%s) cannot send from %s: %s - adverts leave from %s",
                                 inst.name, via, exc.strerror or exc, key.ifname)
        notifier = self.edges.notifier("INSTANCE", inst.name,
                                       scripts.notify_scripts(inst.notifies), fifos=fifos,
                                       umask=self._umask)
        return InstanceRunner(plan, P.core_params(config, plan, source), recv, sock, key,
                              notifier, self.shared, sender=sender)

    async def _open_vmac(self, name: str, spec: Any) -> bool:
        """use_vmac: the instance's macvlan made (a leftover replaced); False when it could
        not be, and the instance cannot run as configured."""
        if self.vmacs is None:
            self.log.error("(%s) use_vmac: cannot create VMAC interfaces here - instance "
                           "disabled", name)
            return False
        result = await self.vmacs.create(spec)
        for problem in result.problems:
            self.log.warning("(%s) VMAC %s: %s", name, spec.ifname, problem)
        if not result.created:
            self.log.error("(%s) Unable to create VMAC interface %s - instance disabled",
                           name, spec.ifname)
            return False
        self.log.info("(%s) Success creating VMAC interface %s", name, spec.ifname)
        return True

    async def _close_vmac(self, runner: InstanceRunner) -> None:
        """The stopped instance's macvlan goes, as keepalived removes it."""
        spec = runner.plan.vmac
        if spec is None or self.vmacs is None:
            return
        if runner.sender is not None:
            runner.sender.close()
            runner.sender = None
        problems = await self.vmacs.remove(spec)
        for problem in problems:
            self.log.warning("(%s) VMAC %s: %s", runner.name, spec.ifname, problem)
        self.log.info("(%s) Success removing VMAC interface %s", runner.name, spec.ifname)

    async def _source_for(self, inst: cfg.VrrpInstance, plan: P.InstancePlan,
                          interfaces: dict[str, Any]) -> Any:
        """The address ``inst`` advertises from: its configured one, else its interface's
        primary IPv4 (or link-local IPv6) address, read once per start into ``interfaces``."""
        configured = P.configured_source(inst)
        if configured is not None:
            return configured
        ifname = inst.interface or ""
        if ifname not in interfaces:
            interfaces[ifname] = await self.edges.interface(self.netlink, ifname)
        info = interfaces[ifname]
        exclude = tuple(v.address for v in plan.vips)
        if info is not None:
            addr = info.primary_ipv4(exclude) if plan.family == 4 else info.link_local_ipv6()
            if addr is not None:
                return addr
        self.log.warning("(%s) no %s address on %s yet", inst.name,
                         "IPv4" if plan.family == 4 else "link-local IPv6", inst.interface)
        return P.UNSPECIFIED4 if plan.family == 4 else P.UNSPECIFIED6

    async def _open_fifos(self, fifos: Iterable[P.FifoPlan], umask: int) -> list[Any]:
        opened = []
        for fifo in fifos:
            uid = gid = None
            if fifo.user is not None:
                # `notify_fifo PATH USER [GROUP]`: that user reads it, so it owns it.
                try:
                    owner = self.edges.user(fifo.user, fifo.group)
                except UserLookupError as exc:
                    self.log.error("%s: notify fifo %s: %s - not using it",
                                   fifo.where, fifo.path, exc)
                    continue
                uid, gid = owner.uid, owner.gid
            nf = self.edges.notify_fifo(fifo.path, script=fifo.script, uid=uid, gid=gid,
                                        umask=umask)
            if await nf.open():
                opened.append(nf)
            else:
                self.log.error("notify FIFO %s refused", fifo.path)
        return opened

    # ------------------------------------------------------------ events in

    def _on_packet(self, rec: Received) -> None:
        route = self.demux.packet(rec.ifname, rec.src.version, rec.payload)
        if route.target is not None:
            self.runtime.runners[route.target].on_packet(rec)
        elif route.unknown_vrid is not None and self.runtime.config.global_defs.log_unknown_vrids:
            self.log.info("Unknown VRID %d received on %s from %s", route.unknown_vrid,
                          rec.ifname, rec.src)

    def _deliver(self, kind: TrackKind, name: str, event: core.Event) -> None:
        runners = self.runtime.runners
        for target in self.runtime.tracking(kind, name):
            runners[target].deliver(event)

    def _on_link(self, event: LinkEvent | AddressEvent | RouteEvent) -> None:
        self._tidy_ticks = TIDY_TICKS
        if isinstance(event, RouteEvent):
            self._on_lost(route_owners(self._plans(), event))
            return
        if isinstance(event, AddressEvent):
            # On whichever interface: keepalived sends from an mcast_src_ip / unicast_src_ip
            # that lives on another interface of the box (eth1's address for an eth0 one).
            self._deliver(TrackKind.ADDRESS, str(event.address),
                          address_event(event.address, event.added))
            if not event.added:
                self._on_lost(vip_owners(self._plans(), event.ifname, event.address))
            return
        if self.demux.ifindex_changed(event.ifname, event.ifindex, event.exists):
            for key in self.pool.reopen_interface(event.ifname):
                self.log.error("cannot reopen VRRP socket %s", key)
        self._deliver(TrackKind.INTERFACE, event.ifname, link_event(event.ifname, event.up))

    def _plans(self) -> dict[str, P.InstancePlan]:
        return {n: r.plan for n, r in self.runtime.runners.items()}

    def _on_lost(self, owners: Iterable[Owned]) -> None:
        """A VIP or route of ours deleted from the box: each owner judges whether it was
        holding it (the daemon's own removals are not losses)."""
        for owned in owners:
            self.runtime.runners[owned.name].lost(owned)

    def _on_track(self, status: TrackStatus) -> None:
        self._deliver(TrackKind.SCRIPT, status.name, track_event(status.name, status.up))

    def _on_transition(self, name: str, t: core.Transition, state: core.InstanceState) -> None:
        self._tidy_ticks = TIDY_TICKS
        self.state_dir.append_transition(
            records.transition(time=self.edges.wall_clock(), name=name, t=t, state=state))
        if name in self.runtime.runners:
            # The runner updates its own "since" after this hook; status is written later.
            self._status_changed()

    # ------------------------------------------------------------ stopping, reloading

    async def _stop_runtime(self, rt: Runtime, *, shutdown: bool,
                            only: Iterable[str] | None = None) -> None:
        names = list(rt.runners) if only is None else list(only)
        for track in list(rt.tracks.values()):
            await track.stop()
        if shutdown:
            # The init script waits only so long: nothing but STOP scripts is waited for.
            for notifier in rt.notifiers(names):
                notifier.hurry()
        leave = farewell(self.options.release_vips) if shutdown else None
        for name in names:
            runner = rt.runners[name]
            if leave is Farewell.SHUTDOWN:
                runner.deliver(core.Shutdown())
            elif leave is Farewell.PRIORITY_0:
                runner.send_advert(0)
                runner.notifier.notify("STOP", runner.state.priority)
            runner.cancel_timers()
        if leave is not None:
            # keepalived runs each group's notify_stop, and its notify with GROUP G1 STOP 0,
            # as it exits (not on a reload, which rebuilds the groups).
            for group in rt.groups.values():
                group.notifier.notify("STOP", 0)
        runners = [rt.runners[n] for n in names]
        await asyncio.gather(*(r.drain() for r in runners), return_exceptions=True)
        await asyncio.gather(*(r.notifier.drain() for r in runners), return_exceptions=True)
        if leave is not None:
            await asyncio.gather(*(g.notifier.drain() for g in rt.groups.values()),
                                 return_exceptions=True)
        await asyncio.gather(*(r.notifier.close() for r in runners), return_exceptions=True)
        for runner in runners:
            self.pool.release(runner.key)
            await self._close_vmac(runner)
        if only is None:
            for group in rt.groups.values():
                await group.notifier.close()
            await asyncio.gather(*(f.close(grace=STOP_GRACE) for f in rt.fifos),
                                 return_exceptions=True)

    async def _reload(self) -> None:
        changed = False
        try:
            while True:
                self.signals.next_pass()
                try:
                    changed |= await self._reload_once()
                except Exception:
                    # A netlink error while building the new runtime, say: said, not lost in
                    # a task nobody awaits, and a queued SIGHUP still gets its turn.
                    self.log.exception("Reload of %s failed", self.options.config_file)
                    changed = True
                if not self.signals.another_pass():
                    break
        finally:
            if self.signals.reload_done(changed):
                # The old runtime and the parses are garbage now; what runs on is frozen again.
                # A refused config changed nothing, and its parse was freed in its thread: no
                # full collection (tens of ms on the loop) for it.
                settle_heap()

    async def _reload_once(self) -> bool:
        """One reload; False when the new config was refused and nothing changed."""
        path = self.options.config_file
        self.log.info("Reloading configuration %s", path)
        self.signals.loading = True
        self._loading = in_thread(load_config, self.options, path)
        try:
            new, problems, scripts = await self._loading
        finally:
            self._loading = None
            self.signals.loading = False
        if new is None or scripts is None:
            for line in problems:
                self.log.error(line)
            self.log.error("Reload of %s failed - keeping the running configuration", path)
            return False
        old = self.runtime
        plan = plan_reload(old.config, {n: r.plan for n, r in old.runners.items()},
                           bool(old.groups), new, scripts.usable)
        keep = {n: old.runners[n] for n in plan.keep}
        # The new verdicts apply before the first await below: a kept instance that changes
        # state while the others stop must not run a script refused a moment ago.
        for name, runner in keep.items():
            runner.notifier.rescript(scripts.notify_scripts(new.instance(name).notifies),
                                     runner.notifier.fifos)
        for name in plan.update:
            runner = keep[name]
            changed = P.plan(new, new.instance(name), scripts.usable)
            runner.update(changed, P.core_params(new, changed, runner.params.primary_address),
                          P.receive_params(new, changed))
        # Stop what changed or went away; its VIPs go with it, as a removed instance's do.
        # A deleted one reports DELETED (FAULT without notify_deleted) and no STOP after it.
        for name in plan.stop:
            runner = old.runners[name]
            deleted = plan.notifies_deleted(name)
            if deleted:
                runner.notifier.notify("DELETED", runner.state.priority)
            runner.deliver(core.Shutdown(notify=not deleted))
        await self._stop_runtime(old, shutdown=False, only=plan.stop)
        for fifo in old.fifos:
            await fifo.close()
        for group in old.groups.values():
            await group.notifier.close()
        rt = Runtime(new, problems)
        self.runtime = rt
        await self._start_runtime(rt, keep, scripts)
        self.reloads += 1
        self.log.info("Reload finished: %d instances kept, %d (re)started", len(keep),
                      len(rt.runners) - len(keep))
        self._write_status()
        return True

    # ------------------------------------------------------------ state files

    def _write_status(self, tidy: bool = True) -> None:
        self._status_due = False
        if tidy:
            self._tidy_ticks = TIDY_TICKS
        self._written_counters = self._counters()
        self.state_dir.write_status(self.status())

    def _views(self) -> list[records.InstanceView]:
        return [records.InstanceView(n, r.status(), r.params)
                for n, r in self.runtime.runners.items()]

    def status(self) -> dict[str, Any]:
        """status.json's contents."""
        rt = self.runtime
        return records.status(
            pid=os.getpid(), started=self.started, updated=self.edges.wall_clock(),
            config=self.options.config_file, reloads=self.reloads, problems=rt.problems,
            counters=self.counters, instances=self._views(),
            groups=[(n, g.role.value, list(g.members)) for n, g in rt.groups.items()])

    def dump_data(self) -> None:
        """SIGUSR1: keepalived.data, the running config and state, in the state dir."""
        config = self.runtime.config
        self._dump(DATA_FILE, records.data_dump(
            now=self.edges.wall_clock(), config_path=config.path,
            router_id=config.global_defs.router_id, instances=self._views()))

    def dump_stats(self) -> None:
        """SIGUSR2: keepalived.stats, per-instance counters, in the state dir."""
        self._dump(STATS_FILE, records.stats_dump(
            now=self.edges.wall_clock(),
            instances=[(n, r.counters) for n, r in self.runtime.runners.items()],
            counters=self.counters, resyncs=self.watcher.resyncs))

    def _dump(self, name: str, text: str) -> None:
        path = self.state_dir.write_dump(name, text)
        if path is not None:
            self.log.info("Wrote %s", path)


__all__ = ["Supervisor"]
