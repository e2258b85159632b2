"""Everything one daemon runs on its loop: instances, sockets, link events, track scripts,
notifies, sync groups, the state dir, and what SIGHUP / SIGUSR1 / SIGUSR2 / SIGTERM do.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from astlinux_ha import params as P
from astlinux_ha.config import model as cfg
from astlinux_ha.config.script_security import ScriptReport, check_scripts
from astlinux_ha.instance import InstanceRunner, Shared, wall_clock
from astlinux_ha.memory import settle_heap, tidy_after_change
from astlinux_ha.net import (
    AddressEvent,
    AddressManager,
    Announcer,
    LinkEvent,
    LinkWatcher,
    Netlink,
    Received,
    SocketPool,
    get_interface,
)
from astlinux_ha.options import Options, load_for_run
from astlinux_ha.scripts.notify import Notifier, NotifyFifo, NotifyScripts
from astlinux_ha.scripts.runner import ScriptCommand
from astlinux_ha.scripts.track import TrackScript, TrackSpec, TrackStatus
from astlinux_ha.scripts.users import UserLookupError, resolve_user
from astlinux_ha.state import DATA_FILE, STATS_FILE, StateDir
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.sync import Member, group_step
from astlinux_ha.vrrp.tracking import TrackKind

# status.json: changes within this many seconds are written once.
STATUS_COALESCE = 0.05
# Counter-only refreshes of status.json, in seconds.
COUNTERS_EVERY = 10
# After a change (transition, link event, status write), the heap is tidied on this many of
# the following 1 s ticks: the netlink work a transition starts may finish after the first one
# (see astlinux_ha.memory).
TIDY_TICKS = 2
# keepalived waits this long for STOP notifies and children when it exits.
STOP_GRACE = 1.0


@dataclass(frozen=True)
class ScriptPlan:
    """The verdicts on one config's scripts: what may run, taken anew at start and on every
    reload, so a script made unsafe since the last one stops running from that moment."""

    report: ScriptReport
    # Keyed by the config item's identity: the model's ScriptCommand and the runner's differ.
    commands: dict[int, ScriptCommand]
    usable: frozenset[str]  # vrrp_script names whose script passed

    @classmethod
    def judge(cls, config: cfg.Config) -> ScriptPlan:
        """Check every script of ``config`` on the host now (file modes, owners, users)."""
        report = check_scripts(config)
        commands: dict[int, ScriptCommand] = {}
        for chk in report.checks:
            if chk.runnable and chk.argv is not None and chk.user is not None:
                cmd = ScriptCommand.from_verdict(chk.argv, chk.verdict, chk.user)
                if cmd is not None:
                    commands[id(chk.script.command)] = cmd
        usable = frozenset(
            s.name for s in config.scripts if s.script is not None and id(s.script) in commands
        )
        return cls(report, commands, usable)


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
        self.tracks: dict[str, TrackScript] = {}
        self.fifos: list[NotifyFifo] = []


class SyncGroupRunner:
    """Routes every member's events through the sync-group rules of the core."""

    def __init__(self, group: cfg.SyncGroup, members: list[InstanceRunner],
                 notifier: Notifier, log: logging.Logger) -> None:
        self.name = group.name
        self.members = {m.name: m for m in members}
        self.notifier = notifier
        self.log = log
        self.role = core.Role.BACKUP
        for m in members:
            m.deliver = lambda ev, target=m.name: self.dispatch(target, ev)

    def dispatch(self, target: str, event: core.Event) -> None:
        """Step the group with ``event`` for member ``target`` and apply every outcome."""
        runner = self.members[target]
        members = {n: Member(r.params, r.state) for n, r in self.members.items()}
        out = group_step(self.name, self.role, members, target, event, runner.shared.loop.time())
        self.role = out.role
        for name, r in self.members.items():
            r.apply(out.states[name], out.actions.get(name, []))
        for action in out.group_actions:
            match action:
                case core.Log(message=message):
                    self.log.info(message)
                case core.RunNotify(state=state, priority=priority):
                    self.notifier.notify(state, priority)


class Supervisor:
    """Owns the edge objects and the current :class:`Runtime`; the daemon's signal handlers
    call its ``request_*`` and ``dump_*`` methods."""

    def __init__(self, options: Options, config: cfg.Config, log: logging.Logger,
                 problems: tuple[str, ...] = ()) -> None:
        self.options = options
        self.log = log
        self.state_dir = StateDir(options.state_dir, log)
        self.runtime = Runtime(config, problems)
        self._stop = asyncio.Event()
        self._reloading: asyncio.Task[None] | None = None
        self._reload_again = False
        self._loading: asyncio.Future[Any] | None = None
        self.started = wall_clock()
        self.reloads = 0
        # Packets no instance could take (too short to carry a VRID, a VRID we do not run).
        self.counters: dict[str, int] = {}
        self._status_due = False
        # The last index seen per interface name: a re-created link gets a new one.
        self._ifindexes: dict[str, int] = {}
        self._written_counters: dict[str, dict[str, int]] = {}
        self._tidy_ticks = 0

    # ------------------------------------------------------------ main

    async def serve(self) -> None:
        """Start everything, run until asked to stop, then stop cleanly."""
        self.state_dir.prepare()
        self.netlink = Netlink()
        g = self.runtime.config.global_defs
        self.shared = Shared(
            addresses=AddressManager(self.netlink),
            announcer=Announcer(g.garp.interval, g.garp.na_interval),
            log=self.log,
            on_transition=self._on_transition,
            on_change=self._status_changed,
        )
        self.pool = SocketPool(self._on_packet)
        self.watcher = LinkWatcher(self._on_link)
        self._index: dict[tuple[str, int, int], InstanceRunner] = {}
        # Links first: an instance's Start reads its interface's state from the watcher, and an
        # unknown link would count as down (FAULT (init), then BACKUP a moment later).
        await self.watcher.start()
        delay = self.runtime.config.global_defs.vrrp_startup_delay
        if delay > 0:
            self._write_status()  # the daemon runs, with no instance yet
        if delay > 0 and await self._stopped_within(delay):
            await self.watcher.close()
            self.netlink.close()
            self.log.info("Stopped VRRP")
            return
        await self._start_runtime(self.runtime, keep={})
        self._write_status()
        settle_heap()
        flusher = asyncio.get_running_loop().create_task(self._flush_state())
        try:
            await self._stop.wait()
        finally:
            flusher.cancel()
            if self._reloading is not None:
                if self._loading is not None:
                    # Still parsing: a stop does not wait for a config it will never run.
                    self._reloading.cancel()
                await asyncio.gather(self._reloading, return_exceptions=True)
            await self._stop_runtime(self.runtime, shutdown=True)
            await self.watcher.close()
            self.pool.close()
            self.netlink.close()
            # Frozen objects are skipped by the interpreter's last collection at exit.
            gc.unfreeze()
            self.log.info("Stopped VRRP")

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
        self._stop.set()
        # A reload in progress may be draining the notifies of instances it stops: from now
        # on nothing but STOP scripts is waited for, there as at the stop itself.
        for runner in self.runtime.runners.values():
            runner.notifier.hurry()
        for group in self.runtime.groups.values():
            group.notifier.hurry()

    def request_reload(self) -> None:
        """SIGHUP: reload, coalescing a burst of signals into one more reload at most."""
        if self._stop.is_set():
            return
        if self._reloading is not None and not self._reloading.done():
            self._reload_again = True
            return
        self._reloading = asyncio.get_running_loop().create_task(self._reload())

    async def _flush_state(self) -> None:
        # A status write that failed on a full tmpfs is retried until it lands. Counters move
        # with every advert: re-encoding status.json for them every second was half of the
        # daemon's CPU at 200 instances, so they are refreshed every COUNTERS_EVERY seconds
        # (SIGUSR2 dumps them at once).
        ticks = 0
        while True:
            await asyncio.sleep(1.0)
            ticks += 1
            now = asyncio.get_running_loop().time()
            for runner in self.runtime.runners.values():
                runner.log_suppressed(now)
            if ticks % COUNTERS_EVERY == 0 and self._counters() != self._written_counters:
                self._write_status()
            self.state_dir.flush()
            if self._tidy_ticks:
                # What this change's netlink work left (pyroute2's messages, names in the type
                # cache) is released now, so failovers do not grow the heap.
                self._tidy_ticks -= 1
                tidy_after_change()

    def _counters(self) -> dict[str, dict[str, int]]:
        return {n: dict(r.counters) for n, r in self.runtime.runners.items()}

    def _status_changed(self) -> None:
        # Coalesced: a burst of changes (200 instances starting) costs one write, not one
        # full status.json per instance.
        if not self._status_due:
            self._status_due = True
            asyncio.get_running_loop().call_later(STATUS_COALESCE, self._write_status)

    # ------------------------------------------------------------ building

    async def _start_runtime(self, rt: Runtime, keep: dict[str, InstanceRunner],
                             scripts: ScriptPlan | None = None) -> None:
        config = rt.config
        if scripts is None:
            scripts = ScriptPlan.judge(config)
        rt.problems += tuple(p.render() for p in scripts.report.problems)
        for line in rt.problems:
            self.log.warning(line)
        commands, usable = scripts.commands, scripts.usable
        umask = self.options.umask_for(config)
        self._umask = umask
        rt.fifos = await self._open_fifos(config, commands, umask)
        for inst in config.instances:
            if inst.name in keep:
                runner = keep[inst.name]
                # Kept for its state, never for its scripts: today's verdicts, today's FIFOs.
                runner.notifier.rescript(self._notify_scripts(inst.notifies, commands),
                                         rt.fifos)
            else:
                runner = await self._build_runner(config, inst, usable, commands, rt.fifos)
                if runner is None:
                    continue
            rt.runners[inst.name] = runner
        for group in config.sync_groups:
            members = [rt.runners[n] for n in group.members if n in rt.runners]
            if members:
                notifier = Notifier("GROUP", group.name, self._notify_scripts(
                    group.notifies, commands), fifos=rt.fifos, umask=umask)
                rt.groups[group.name] = SyncGroupRunner(group, members, notifier, self.log)
        for scr in config.scripts:
            if scr.name in usable and any(
                t.kind is TrackKind.SCRIPT and t.name == scr.name
                for r in rt.runners.values() for t in r.params.tracks
            ):
                spec = TrackSpec(scr.name, commands[id(scr.script)], scr.interval, scr.timeout,
                                 scr.rise, scr.fall, scr.init_fail)
                rt.tracks[scr.name] = TrackScript(spec, self._on_track, umask=umask)
        self._reindex(rt)
        for name, runner in rt.runners.items():
            if name not in keep:
                down = frozenset(
                    t.key for t in runner.params.tracks
                    if t.kind is TrackKind.INTERFACE and not self._link_up(t.name)
                ) | frozenset(
                    (TrackKind.SCRIPT, s.name) for s in config.scripts
                    if s.init_fail and s.name in rt.tracks
                ) | self._source_missing(runner)
                runner.deliver(core.Start(down=down))
        for track in rt.tracks.values():
            track.start()

    async def _build_runner(self, config: cfg.Config, inst: cfg.VrrpInstance,
                            usable: frozenset[str], commands: dict[int, ScriptCommand],
                            fifos: list[NotifyFifo]) -> InstanceRunner | None:
        plan = P.plan(config, inst, usable)
        source = await self._source_for(inst, plan)
        key = P.socket_key(inst, source)
        recv = P.receive_params(config, plan)
        try:
            sock = self.pool.acquire(key, None if inst.unicast_peers else recv.group)
        except OSError as exc:
            self.log.error("(%s) cannot open VRRP socket on %s: %s - instance disabled",
                           inst.name, inst.interface, exc.strerror or exc)
            return None
        notifier = Notifier("INSTANCE", inst.name, self._notify_scripts(inst.notifies, commands),
                            fifos=fifos, umask=self._umask)
        return InstanceRunner(plan, P.core_params(config, plan, source), recv, sock, key,
                              notifier, self.shared)

    async def _source_for(self, inst: cfg.VrrpInstance, plan: P.InstancePlan) -> Any:
        configured = P.configured_source(inst)
        if configured is not None:
            return configured
        info = await get_interface(self.netlink, inst.interface or "")
        exclude = tuple(v.address for v in plan.vips)
        if info is not None:
            addr = info.primary_ipv4(exclude) if plan.family == 4 else info.link_local_ipv6()
            if addr is not None:
                return addr
        self.log.warning("(%s) no %s address on %s yet", inst.name,
                         "IPv4" if plan.family == 4 else "link-local IPv6", inst.interface)
        return P.UNSPECIFIED4 if plan.family == 4 else P.UNSPECIFIED6

    @staticmethod
    def _notify_scripts(n: cfg.Notifies, commands: dict[int, ScriptCommand]) -> NotifyScripts:
        def get(item: cfg.ScriptCommand | None) -> ScriptCommand | None:
            return commands.get(id(item)) if item is not None else None

        return NotifyScripts(
            master=get(n.master), backup=get(n.backup), fault=get(n.fault), stop=get(n.stop),
            deleted=get(n.deleted), master_rx_lower_pri=get(n.master_rx_lower_pri),
            generic=get(n.generic), notify_deleted=n.deleted is not None or n.report_deleted,
        )

    async def _open_fifos(self, config: cfg.Config, commands: dict[int, ScriptCommand],
                          umask: int) -> list[NotifyFifo]:
        g = config.global_defs
        fifos = []
        for fifo, script in ((g.notify_fifo, g.notify_fifo_script),
                             (g.vrrp_notify_fifo, g.vrrp_notify_fifo_script)):
            if fifo is None:
                continue
            uid = gid = None
            if fifo.user is not None:
                # `notify_fifo PATH USER [GROUP]`: that user reads it, so it owns it.
                try:
                    owner = resolve_user(fifo.user, fifo.group)
                except UserLookupError as exc:
                    self.log.error("%s: notify fifo %s: %s - not using it",
                                   fifo.where, fifo.path, exc)
                    continue
                uid, gid = owner.uid, owner.gid
            nf = NotifyFifo(fifo.path, script=commands.get(id(script)) if script else None,
                            uid=uid, gid=gid, umask=umask)
            if await nf.open():
                fifos.append(nf)
            else:
                self.log.error("notify FIFO %s refused", fifo.path)
        return fifos

    def _reindex(self, rt: Runtime) -> None:
        self._index = {}
        for runner in rt.runners.values():
            family = 4 if runner.key.family == socket.AF_INET else 6
            self._index[(runner.key.ifname, family, runner.params.vrid)] = runner

    # ------------------------------------------------------------ events in

    def _on_packet(self, rec: Received) -> None:
        if len(rec.payload) < 2:
            self.counters["short packet"] = self.counters.get("short packet", 0) + 1
            return
        runner = self._index.get((rec.ifname, rec.src.version, rec.payload[1]))
        if runner is not None:
            runner.on_packet(rec)
            return
        if not rec.ifname:
            # An unbound socket (an instance without 'interface') hears every VRRP packet;
            # one for another VRID is the bound sockets' to count.
            return
        self.counters["unknown vrid"] = self.counters.get("unknown vrid", 0) + 1
        if self.runtime.config.global_defs.log_unknown_vrids:
            self.log.info("Unknown VRID %d received on %s from %s", rec.payload[1], rec.ifname,
                          rec.src)

    def _link_up(self, ifname: str) -> bool:
        event = self.watcher.link(ifname)
        return event is not None and event.up

    def _on_link(self, event: LinkEvent | AddressEvent) -> None:
        self._tidy_ticks = TIDY_TICKS
        if isinstance(event, AddressEvent):
            self._on_address(event)
            return
        for key in self.pool.reopen_interface(event.ifname) if self._ifindex_changed(event) else ():
            self.log.error("cannot reopen VRRP socket %s", key)
        ev: core.Event = core.InterfaceUp(event.ifname) if event.up else core.InterfaceDown(
            event.ifname)
        for runner in self.runtime.runners.values():
            if any(t.kind is TrackKind.INTERFACE and t.name == event.ifname
                   for t in runner.params.tracks):
                runner.deliver(ev)

    def _on_address(self, event: AddressEvent) -> None:
        ev = core.SourceAddress(event.address, event.added)
        # On whichever interface: keepalived sends from an mcast_src_ip / unicast_src_ip that
        # lives on another interface of the box (eth1's address for an eth0 instance).
        for runner in self.runtime.runners.values():
            if any(t.kind is TrackKind.ADDRESS and t.name == str(event.address)
                   for t in runner.params.tracks):
                runner.deliver(ev)

    def _source_missing(self, runner: InstanceRunner) -> frozenset[core.TrackKey]:
        """The configured source address as a down track when no interface of the box has it."""
        present = {str(a) for a, _ in self.watcher.addresses(None)}
        return frozenset(t.key for t in runner.params.tracks
                         if t.kind is TrackKind.ADDRESS and t.name not in present)

    def _ifindex_changed(self, event: LinkEvent) -> bool:
        known = self._ifindexes
        before = known.get(event.ifname)
        if not event.exists:
            # Keep the old index: the re-created link comes back with a new one, and the
            # sockets still bound to the old one must then be re-opened.
            return False
        known[event.ifname] = event.ifindex
        return before is not None and before != event.ifindex

    def _on_track(self, status: TrackStatus) -> None:
        for runner in self.runtime.runners.values():
            if any(t.kind is TrackKind.SCRIPT and t.name == status.name
                   for t in runner.params.tracks):
                runner.deliver(core.TrackResult(status.name, status.up))

    def _on_transition(self, name: str, t: core.Transition, state: core.InstanceState) -> None:
        self._tidy_ticks = TIDY_TICKS
        runner = self.runtime.runners.get(name)
        self.state_dir.append_transition({
            "time": wall_clock(),
            "instance": name,
            "from": t.from_role.value,
            "to": t.to_role.value,
            "cause": t.cause,
            "priority": state.priority,
            "master": str(state.master_address) if state.master_address else None,
        })
        if runner is not None:
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
            for notifier in (*(rt.runners[n].notifier for n in names),
                             *(g.notifier for g in rt.groups.values())):
                notifier.hurry()
        for name in names:
            runner = rt.runners[name]
            if shutdown and self.options.release_vips:
                runner.deliver(core.Shutdown())
            elif shutdown:
                runner.send_advert(0)
                runner.notifier.notify("STOP", runner.state.priority)
            runner.cancel_timers()
        await asyncio.gather(*(rt.runners[n].drain() for n in names), return_exceptions=True)
        await asyncio.gather(*(rt.runners[n].notifier.drain() for n in names),
                             return_exceptions=True)
        await asyncio.gather(*(rt.runners[n].notifier.close() for n in names),
                             return_exceptions=True)
        for name in names:
            self.pool.release(rt.runners[name].key)
        if only is None:
            for group in rt.groups.values():
                await group.notifier.close()
            await asyncio.gather(*(f.close(grace=STOP_GRACE) for f in rt.fifos),
                                 return_exceptions=True)

    async def _reload(self) -> None:
        changed = False
        try:
            while True:
                self._reload_again = False
                try:
                    changed |= await self._reload_once()
                except Exception:
                    # A netlink error while building the new runtime, say: said, not lost in
                    # a task nobody awaits, and a queued SIGHUP still gets its turn.
                    self.log.exception("Reload of %s failed", self.options.config_file)
                    changed = True
                if not self._reload_again or self._stop.is_set():
                    break
        finally:
            if changed and not self._stop.is_set():
                # The old runtime and the parses are garbage now; what runs on is frozen again.
                # A refused config changed nothing, and its parse was freed in its thread: no
                # full collection (tens of ms on the loop) for it.
                settle_heap()

    def _load(self, path: str) -> tuple[cfg.Config | None, tuple[str, ...], ScriptPlan | None]:
        """Parse ``path`` and judge its scripts: run in a worker thread, as a big or hostile
        config may take a while and the loop must keep advertising meanwhile.

        Returns the config, its problem lines and the verdicts; a config that cannot run comes
        back as its problem lines alone: the model it built is freed here, in the thread, not
        on the loop.
        """
        result = load_for_run(self.options, path)
        lines = tuple(p.render() for p in result.problems)
        if not result.runnable or result.config is None:
            # Every line, not only the fatal one: "no instance left to run" is explained by
            # the errors that dropped each instance.
            return None, lines, None
        return result.config, lines, ScriptPlan.judge(result.config)

    async def _reload_once(self) -> bool:
        """One reload; False when the new config was refused and nothing changed."""
        path = self.options.config_file
        self.log.info("Reloading configuration %s", path)
        self._loading = _in_thread(self._load, path)
        try:
            new, problems, scripts = await self._loading
        finally:
            self._loading = None
        if new is None or scripts is None:
            for line in problems:
                self.log.error(line)
            self.log.error("Reload of %s failed - keeping the running configuration", path)
            return False
        old = self.runtime
        keep = {n: r for n, r in old.runners.items() if _keeps(old, new, n, r, scripts)}
        gone = [n for n in old.runners if n not in keep]
        # The new verdicts apply before the first await below: a kept instance that changes
        # state while the others stop must not run a script refused a moment ago.
        for name, runner in keep.items():
            runner.notifier.rescript(
                self._notify_scripts(new.instance(name).notifies, scripts.commands),
                runner.notifier.fifos)
        # Stop what changed or went away; its VIPs go with it, as a removed instance's do.
        for name in gone:
            runner = old.runners[name]
            if not any(i.name == name for i in new.instances):
                runner.notifier.notify("DELETED", runner.state.priority)
            runner.deliver(core.Shutdown())
        await self._stop_runtime(old, shutdown=False, only=gone)
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

    def _write_status(self) -> None:
        self._status_due = False
        self._tidy_ticks = TIDY_TICKS
        self._written_counters = self._counters()
        self.state_dir.write_status(self.status())

    def status(self) -> dict[str, Any]:
        """status.json's contents."""
        return {
            "pid": os.getpid(),
            "started": self.started,
            "updated": wall_clock(),
            "config": self.options.config_file,
            "reloads": self.reloads,
            "problems": list(self.runtime.problems),
            "counters": dict(sorted(self.counters.items())),
            "instances": {n: r.status() for n, r in self.runtime.runners.items()},
            "sync_groups": {n: {"state": g.role.value, "members": list(g.members)}
                            for n, g in self.runtime.groups.items()},
        }

    def dump_data(self) -> None:
        """SIGUSR1: keepalived.data, the running config and state, in the state dir."""
        lines = [f"------< astlinux-ha VRRP data, {wall_clock()} >------", ""]
        cfgd = self.runtime.config
        lines.append(f" config = {cfgd.path}")
        lines.append(f" router_id = {cfgd.global_defs.router_id}")
        for name, r in self.runtime.runners.items():
            st = r.status()
            lines += [
                "", f" VRRP Instance = {name}",
                f"   State = {st['state']}",
                f"   Interface = {st['interface']}",
                f"   Virtual Router ID = {st['vrid']}",
                f"   Version = {st['version']}",
                f"   Priority = {st['priority']}",
                f"   Effective priority = {st['effective_priority']}",
                f"   Advert interval = {r.params.advert_int} sec",
                f"   Source = {st['source']}",
                f"   Master = {st['master']}",
                f"   Unicast peers = {', '.join(str(a) for a in r.params.unicast_peers) or '-'}",
                f"   Virtual IP = {', '.join(st['vips']) or '-'}",
                f"   Tracking = {', '.join(t.describe() for t in r.params.tracks) or '-'}",
                f"   Since = {st['since']}",
            ]
        path = self.state_dir.write_dump(DATA_FILE, "\n".join(lines) + "\n")
        if path is not None:
            self.log.info("Wrote %s", path)

    def dump_stats(self) -> None:
        """SIGUSR2: keepalived.stats, per-instance counters, in the state dir."""
        lines = [f"------< astlinux-ha VRRP statistics, {wall_clock()} >------"]
        for name, r in self.runtime.runners.items():
            lines += ["", f"VRRP Instance: {name}"]
            lines += [f"  {k}: {v}" for k, v in sorted(r.counters.items())]
        lines += ["", "Packets for no instance:"]
        lines += [f"  {k}: {v}" for k, v in sorted(self.counters.items())]
        lines += ["", f"Link watcher re-syncs: {self.watcher.resyncs}"]
        path = self.state_dir.write_dump(STATS_FILE, "\n".join(lines) + "\n")
        if path is not None:
            self.log.info("Wrote %s", path)


def _in_thread(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """``fn(*args)`` in a daemon thread, as a future of the running loop.

    Not asyncio.to_thread: its executor's threads are joined when the loop closes and at
    interpreter exit, so a stop would wait for a parse nobody needs any more.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    def work() -> None:
        try:
            result, exc = fn(*args), None
        except BaseException as err:  # handed to the awaiting task, raised there
            result, exc = None, err
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, result, exc)

    threading.Thread(target=work, name="config load", daemon=True).start()
    return future


def _strip(value: Any) -> Any:
    """A comparable form of a config item with every source location dropped."""
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_strip(v) for v in value)
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is None:
        return value
    return tuple((n, _strip(getattr(value, n))) for n in fields
                 if n not in ("where", "member_where"))


def _same(a: cfg.VrrpInstance, b: cfg.VrrpInstance) -> bool:
    """Whether an instance's config is unchanged, wherever its lines moved in the file."""
    return _strip(a) == _strip(b)


def _same_globals(a: cfg.Config, b: cfg.Config) -> bool:
    return _strip(a.global_defs) == _strip(b.global_defs) and _strip(a.scripts) == _strip(
        b.scripts
    )


def _keeps(old: Runtime, new: cfg.Config, name: str, runner: InstanceRunner,
           scripts: ScriptPlan) -> bool:
    """Whether a reload carries instance ``name`` over in its state.

    Only when nothing it runs on changed: its own config, the globals and scripts blocks, and
    what it tracks once the scripts are judged again (a track script refused now, or allowed
    again, restarts it).
    """
    inst = next((i for i in new.instances if i.name == name), None)
    return (
        inst is not None
        and not old.groups
        and _same(runner.plan.config, inst)
        and _same_globals(old.config, new)
        and P.track_specs(new, inst, scripts.usable) == runner.plan.tracks
    )


__all__ = ["Supervisor"]
