"""The VRRP state machine: ``step(params, state, event, now) -> (state, actions)``.

INIT, BACKUP, MASTER and FAULT behave as keepalived's (vrrp.c, vrrp_scheduler.c,
vrrp_track.c), log lines included. Two deliberate additions, both logged:

* split brain: a master that hears another master with a lower priority (the other side
  of a healed partition, or of a one-way VRRP block) logs ``split brain`` once per episode;
* single-peer fast takeover: with exactly one ``unicast_peer``, a backup that receives
  priority 0 from it takes over at once; likewise when the master it follows advertises a
  priority below ours (fast preempt: a failing weighted track moves the VIP within one
  advert interval instead of a whole down interval). The skew only orders several backups;
  with one peer there is nobody to order, and the client's outage drops from ~0.6 s to
  milliseconds.

preempt_delay needs no timer of its own: as in keepalived, lower-priority adverts are
accepted until the delay has passed, then discarded, so the master-down timer runs out.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping

from . import timing, tracking
from .model import (
    Action,
    AddVips,
    AdvertReceived,
    ArmTimer,
    CancelTimer,
    Event,
    InstanceParams,
    InstanceState,
    InterfaceDown,
    InterfaceUp,
    IPAddress,
    Level,
    Log,
    Reload,
    RemoveVips,
    Role,
    RunNotify,
    SendAdvert,
    SendGratuitous,
    Shutdown,
    SourceAddress,
    Start,
    SyncForce,
    SyncRelease,
    Timer,
    TimerExpired,
    TrackResult,
    Transition,
    VirtualDeleted,
)
from .tracking import TrackKey, TrackKind

MASTER_TIMERS = (Timer.ADVERT, Timer.GARP_DELAY, Timer.GARP_REFRESH, Timer.GARP_LOWER_PRIO)

# dataclasses.replace looks every field up and checks it on each call: ~10 us for the state's
# fifteen, at least once per step, and a master steps once per advert (200 a second at 200
# instances). Every field is a plain init field, so rebuilding the state positionally gives
# the same object for less than half of that.
_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(InstanceState))
assert all(f.init for f in dataclasses.fields(InstanceState)), "rebuilt positionally"
_STATE_INDEX = {name: i for i, name in enumerate(_STATE_FIELDS)}
_state_values = operator.attrgetter(*_STATE_FIELDS)


def _replace(state: InstanceState, changes: Mapping[str, object]) -> InstanceState:
    """``dataclasses.replace(state, **changes)``, faster."""
    values = list(_state_values(state))
    for name, value in changes.items():
        values[_STATE_INDEX[name]] = value
    return InstanceState(*values)


def step(
    params: InstanceParams,
    state: InstanceState,
    event: Event,
    now: float,
    *,
    may_master: bool = True,
) -> tuple[InstanceState, list[Action]]:
    """Apply ``event`` at time ``now``; return the new state and the actions to carry out.

    ``may_master=False`` is the sync group saying "not every member wants MASTER yet": a
    backup that would take over stays BACKUP, marked as wanting MASTER, and waits another
    full master-down interval.
    """
    run = _Run(params, state, now, may_master)
    run.handle(event)
    return run.finish()


def advert_tick(params: InstanceParams, state: InstanceState, now: float) -> float | None:
    """A master's periodic advert: ``step(params, state, TimerExpired(Timer.ADVERT), now)``
    without building a new state. None when the ADVERT timer is not armed (the step would do
    nothing); else the deadline ``at`` the step re-arms it for.

    That step's actions are always ``SendAdvert(state.priority)`` then ``ArmTimer(ADVERT,
    at)``, and its new state differs from ``state`` only in ``timers[ADVERT] == at``: a value no
    step reads (the machine asks only whether ADVERT is armed), so the caller sends, re-arms
    and keeps ``state``. A master sends one advert per interval, and at scale this is most of
    what the daemon does: no state to build, nothing left for the collector.
    """
    if Timer.ADVERT not in state.timers:
        return None
    return now + timing.seconds(params.adver_us)


def own_faults(params: InstanceParams, state: InstanceState) -> list[str]:
    """The instance's own reasons to be in FAULT (not the sync group's)."""
    return tracking.faults(params.tracks, state.tracks)


def pending_tracks(params: InstanceParams, state: InstanceState) -> list[str]:
    """Unweighted tracked objects that have not reported yet."""
    return tracking.pending(params.tracks, state.tracks)


class _Run:
    """One step's working copy: mutable fields, collected actions, then frozen again."""

    def __init__(
        self, params: InstanceParams, state: InstanceState, now: float, may_master: bool
    ) -> None:
        self.p = params
        self.s = state
        self.now = now
        self.may_master = may_master
        self.actions: list[Action] = []
        self.timers: dict[Timer, float] = dict(state.timers)
        self.tracks: dict[TrackKey, bool | None] = dict(state.tracks)

    # ------------------------------------------------------------ plumbing

    def finish(self) -> tuple[InstanceState, list[Action]]:
        return _replace(self.s, {"timers": self.timers, "tracks": self.tracks}), self.actions

    def set(self, **changes: object) -> None:
        self.s = _replace(self.s, changes)

    def emit(self, action: Action) -> None:
        self.actions.append(action)

    def log(self, message: str, level: Level = Level.INFO) -> None:
        self.emit(Log(level, f"({self.p.name}) {message}"))

    def arm(self, timer: Timer, delay_us: int) -> None:
        at = self.now + timing.seconds(delay_us)
        self.timers[timer] = at
        self.emit(ArmTimer(timer, at))

    def cancel(self, *timers: Timer) -> None:
        for timer in timers:
            if self.timers.pop(timer, None) is not None:
                self.emit(CancelTimer(timer))

    def transition(self, to: Role, cause: str) -> None:
        self.emit(Transition(self.s.role, to, cause))
        self.set(role=to, since=self.now)

    # ------------------------------------------------------------ arithmetic

    def skew_priority(self) -> int:
        return timing.OWNER_PRIORITY if self.p.owner else self.s.priority

    def skew_us(self) -> int:
        return timing.skew_us(self.p.version, self.skew_priority(), self.s.master_adver_us)

    def down_us(self) -> int:
        return timing.down_us(
            self.p.version, self.skew_priority(), self.s.master_adver_us,
            self.p.down_timer_adverts,
        )

    def priority_now(self) -> int:
        return tracking.effective_priority(self.p.priority, self.p.tracks, self.tracks)

    def faults(self) -> list[str]:
        return tracking.faults(self.p.tracks, self.tracks)

    def pending(self) -> list[str]:
        return tracking.pending(self.p.tracks, self.tracks)

    # ------------------------------------------------------------ dispatch

    def handle(self, event: Event) -> None:
        match event:
            case Start():
                self.start(event.down)
            case AdvertReceived():
                self.advert(event)
            case TimerExpired():
                self.timer(event.timer)
            case InterfaceDown() | InterfaceUp():
                up = isinstance(event, InterfaceUp)
                self.track((TrackKind.INTERFACE, event.ifname), up)
            case SourceAddress():
                self.track((TrackKind.ADDRESS, str(event.address)), event.present)
            case TrackResult():
                self.track((TrackKind.SCRIPT, event.name), event.up)
            case VirtualDeleted():
                self.virtual_deleted(event.what)
            case Shutdown(notify=notify):
                self.shutdown(notify)
            case Reload():
                self.reload()
            case SyncForce():
                self.sync_force(event.role, event.cause, event.quick)
            case SyncRelease():
                self.set(faulted_by_group=False)
                self.maybe_recover("sync group recovered")
            case _:
                raise TypeError(f"not a VRRP machine event: {event!r}")

    # ------------------------------------------------------------ state entries

    def enter_master(self, cause: str) -> None:
        # The advert goes first so the old master drops the VIPs before our GARPs go out.
        self.set(master_adver_us=self.p.adver_us)
        self.emit(SendAdvert(self.s.priority))
        self.log("Entering MASTER STATE")
        self.transition(Role.MASTER, cause)
        self.set(wants_master=False, master_address=None, split_brain_peer=None,
                 split_brain_seen=None, retake=None)
        self.cancel(Timer.MASTER_DOWN)
        self.log("setting VIPs.", Level.DETAIL)
        self.emit(AddVips())
        garp = self.p.garp
        if garp.master_repeat > 0:
            self.emit(SendGratuitous(garp.master_repeat))
        delay_us = round(garp.master_delay * timing.TIMER_HZ)
        if delay_us:
            self.arm(Timer.GARP_DELAY, delay_us)
        if garp.master_refresh > 0:
            self.arm(Timer.GARP_REFRESH, delay_us + round(garp.master_refresh * timing.TIMER_HZ))
        self.emit(RunNotify("MASTER", self.s.priority))
        self.arm(Timer.ADVERT, self.p.adver_us)

    def leave_master(self, to: Role, cause: str, *, quick: bool = False) -> None:
        """Step down to ``to``; ``quick``: to BACKUP with priority 0 sent and a down timer of
        one skew time, to become MASTER again at once (keepalived's set_vrrp_backup)."""
        # A FAULT says why on its own line: the admin reading syslog has no journal at hand.
        self.log(f"Entering FAULT STATE ({cause})" if to is Role.FAULT
                 else f"Entering {to.value} STATE")
        if to is Role.FAULT or quick:
            self.emit(SendAdvert(0))
        if quick:
            self.log("sent 0 priority", Level.DETAIL)
        self.transition(to, cause)
        self.set(split_brain_peer=None, split_brain_seen=None, preempt_until=None)
        self.cancel(*MASTER_TIMERS)
        self.log("removing VIPs.", Level.DETAIL)
        self.emit(RemoveVips())
        self.emit(RunNotify(to.value, self.s.priority))
        if to is Role.BACKUP:
            self.arm(Timer.MASTER_DOWN, self.skew_us() if quick else self.down_us())

    def enter_fault(self, cause: str) -> None:
        if self.s.role is Role.MASTER:
            self.leave_master(Role.FAULT, cause)
            return
        if self.s.role is not Role.FAULT:
            self.log(f"Entering FAULT STATE ({cause})")
            self.transition(Role.FAULT, cause)
            self.set(retake=None)
            self.cancel(Timer.MASTER_DOWN)
            self.emit(RunNotify("FAULT", self.s.priority))

    def maybe_recover(self, cause: str) -> None:
        """Leave FAULT for BACKUP, with a full down timer, once nothing holds us there."""
        if self.s.role is not Role.FAULT or self.s.faulted_by_group:
            return
        if self.faults() or self.pending():
            return
        self.set(master_adver_us=self.p.adver_us, preempt_until=None, wants_master=False)
        self.log("Entering BACKUP STATE")
        self.transition(Role.BACKUP, cause)
        self.emit(RunNotify("BACKUP", self.s.priority))
        self.arm(Timer.MASTER_DOWN, self.down_us())

    def takeover(self, cause: str) -> None:
        """A backup's down timer ran out (or its only peer stopped): become master."""
        if not self.may_master:
            # Held by the sync group; like keepalived, wait a full interval and ask again.
            self.set(wants_master=True)
            self.arm(Timer.MASTER_DOWN, self.down_us())
            return
        self.enter_master(cause)

    # ------------------------------------------------------------ events

    def start(self, down: frozenset[TrackKey]) -> None:
        if self.s.role is not Role.INIT:
            return
        for spec in self.p.tracks:
            # The daemon knows links and addresses at start; scripts report later.
            known = spec.kind is not TrackKind.SCRIPT
            self.tracks[spec.key] = False if spec.key in down else (True if known else None)
        self.set(priority=self.priority_now(), master_adver_us=self.p.adver_us)
        self.emit(RemoveVips(force=True))
        faults, pending = self.faults(), self.pending()
        if faults or pending or self.s.faulted_by_group:
            if faults:
                why = ", ".join(faults) + " down"
            elif pending:
                why = "waiting for " + ", ".join(pending)
            else:
                why = "sync group in FAULT"
            # keepalived's "(init)" first, so habits and greps carry over, then the cause.
            self.log(f"Entering FAULT STATE (init: {why})")
            self.transition(Role.FAULT, why)
            if faults:
                # keepalived notifies FAULT only for a real fault, not while scripts warm up
                self.emit(RunNotify("FAULT", self.s.priority))
            return
        if self.p.owner and self.p.init_state is Role.MASTER:
            self.enter_master("address owner (priority 255) with state MASTER")
            return
        self.log("Entering BACKUP STATE (init)")
        self.transition(Role.BACKUP, "start")
        self.emit(RunNotify("BACKUP", self.s.priority))
        self.arm(Timer.MASTER_DOWN, self.down_us())

    def advert(self, event: AdvertReceived) -> None:
        if self.s.role is Role.BACKUP:
            self.backup_rx(event)
        elif self.s.role is Role.MASTER:
            self.master_rx(event)
        # INIT and FAULT ignore adverts, as keepalived does

    def backup_rx(self, event: AdvertReceived) -> None:
        advert, src = event.advert, event.src
        # Fast preempt needs what this sender advertised last time, before it is replaced.
        followed = (self.s.master_address == src == self.s.last_advert_from
                    and (self.s.last_advert_priority or 0) >= self.s.priority)
        self.set(last_advert_from=src, last_advert_at=self.now,
                 last_advert_priority=advert.priority, retake=None)
        if advert.priority == 0:
            if self.sole_peer(src):
                self.log(f"sole unicast peer {src} sent priority 0 - taking over at once")
                self.takeover(f"single-peer fast takeover: {src} sent priority 0")
                return
            self.log("Backup received priority 0 advertisement", Level.DETAIL)
            self.arm(Timer.MASTER_DOWN, self.skew_us())
            return
        ours = self.s.priority
        in_delay = self.p.preempt_delay > 0 and (
            self.s.preempt_until is None or self.s.preempt_until > self.now
        )
        if self.p.nopreempt or advert.priority >= ours or in_delay:
            if self.p.version == 3:
                self.adopt_interval(advert.interval * (timing.TIMER_HZ // 100))
            self.set(master_address=src, wants_master=False)
            if self.p.preempt_delay > 0:
                if advert.priority >= ours:
                    self.set(preempt_until=None)
                elif self.s.preempt_until is None:
                    self.set(preempt_until=self.now + self.p.preempt_delay)
                    self.log(f"start preempt delay ({self.p.preempt_delay:.6f})", Level.DETAIL)
            self.arm(Timer.MASTER_DOWN, self.down_us())
            return
        if followed and self.sole_peer(src):
            # The master we followed lowered its priority below ours (a failing track
            # script, a lost interface). With a single peer there are no other backups for
            # the skew to order, so waiting out the down timer only lengthens the switch.
            self.log(f"master {src} lowered its priority to {advert.priority}, ours {ours}"
                     " - preempting at once")
            self.takeover(f"fast preempt: master {src} lowered its priority to "
                          f"{advert.priority}, ours {ours}")
            return
        # the down timer keeps running: if the master stays lower, we take over
        self.log(f"received lower priority ({advert.priority}) advert from {src} - discarding")

    def sole_peer(self, src: IPAddress) -> bool:
        """True when ``src`` is our only unicast peer: nobody else can be a backup."""
        peers = self.p.unicast_peers
        return len(peers) == 1 and peers[0] == src

    def adopt_interval(self, master_us: int) -> None:
        if master_us != self.s.master_adver_us:
            self.log(
                f"advertisement interval updated from {self.s.master_adver_us // 1000}ms "
                f"to {master_us // 1000}ms by master", Level.DETAIL,
            )
            self.set(master_adver_us=master_us)

    def master_rx(self, event: AdvertReceived) -> None:
        advert, src = event.advert, event.src
        ours = self.s.priority
        cmp = _compare(src, self.p.primary_address)
        theirs_higher = advert.priority > ours or (advert.priority == ours and cmp > 0)
        if advert.priority == 0 or (self.p.higher_prio_send_advert and theirs_higher):
            self.emit(SendAdvert(ours))
            if advert.priority == 0:
                self.log("Master received priority 0 message", Level.DETAIL)
                return
        if advert.priority == ours and cmp == 0:
            self.log("WARNING - equal priority advert received from remote host with our "
                     "IP address.", Level.WARNING)
            return
        if advert.priority == ours == timing.OWNER_PRIORITY:
            self.log(f"CONFIGURATION ERROR: local instance and {src} are both configured as "
                     "address owner, please resolve", Level.WARNING)
        if not theirs_higher:
            self.lower_rx(advert.priority, src)
            return
        if advert.priority > ours:
            self.log(f"Master received advert from {src} with higher priority "
                     f"{advert.priority}, ours {ours}")
            cause = f"{src} advertises higher priority {advert.priority} (ours {ours})"
        else:
            self.log(f"Master received advert from {src} with same priority "
                     f"{advert.priority} but higher IP address than ours")
            cause = f"{src} has equal priority {ours} and a higher address"
        if self.p.version == 3:
            self.adopt_interval(advert.interval * (timing.TIMER_HZ // 100))
        self.set(master_address=src, last_advert_from=src, last_advert_at=self.now,
                 last_advert_priority=advert.priority)
        self.leave_master(Role.BACKUP, cause)

    def lower_rx(self, priority: int, src: IPAddress) -> None:
        ours = self.s.priority
        seen = self.s.split_brain_seen
        since = self.s.since if self.s.since is not None else self.now
        if self.now - since > timing.seconds(self.s.master_adver_us):
            # Within one interval of our takeover this is an advert the old master sent
            # before it heard ours: a handover, not a split brain.
            new_episode = (
                self.s.split_brain_peer != src
                or seen is None
                or self.now - seen > timing.seconds(self.down_us())
            )
            if new_episode:
                self.log(f"split brain: {src} is also master (priority {priority}, "
                         f"ours {ours})", Level.WARNING)
            self.set(split_brain_peer=src, split_brain_seen=self.now)
        suffix = "" if self.p.lower_prio_no_advert else ", forcing new election"
        self.log(f"Received advert from {src} with lower priority {priority}, ours {ours}{suffix}")
        if not self.p.lower_prio_no_advert:
            self.emit(SendAdvert(ours))
        garp = self.p.garp
        if garp.lower_prio_repeat > 0:
            self.emit(SendGratuitous(garp.lower_prio_repeat))
            if garp.lower_prio_delay > 0:
                self.arm(Timer.GARP_LOWER_PRIO, round(garp.lower_prio_delay * timing.TIMER_HZ))
        self.emit(RunNotify("MASTER_RX_LOWER_PRI", ours))

    def timer(self, timer: Timer) -> None:
        if self.timers.pop(timer, None) is None:
            return  # cancelled or superseded: a late callback must not act
        garp = self.p.garp
        if timer is Timer.MASTER_DOWN:
            self.takeover(self.down_cause())
        elif timer is Timer.ADVERT:
            self.emit(SendAdvert(self.s.priority))
            self.arm(Timer.ADVERT, self.p.adver_us)
        elif timer is Timer.GARP_DELAY:
            self.emit(SendGratuitous(garp.master_repeat))
        elif timer is Timer.GARP_REFRESH:
            self.emit(SendGratuitous(garp.master_refresh_repeat))
            self.arm(Timer.GARP_REFRESH, round(garp.master_refresh * timing.TIMER_HZ))
        else:
            self.emit(SendGratuitous(garp.lower_prio_repeat))

    def down_cause(self) -> str:
        if self.s.retake is not None:
            return f"setting everything again after {self.s.retake}"
        src, at, prio = self.s.last_advert_from, self.s.last_advert_at, self.s.last_advert_priority
        if src is None or at is None:
            return "master down timer expired: no advert received"
        age = self.now - at
        if prio == 0:
            return f"master {src} sent priority 0 {age:.1f} s ago"
        if prio is not None and prio < self.s.priority and not self.p.nopreempt:
            return f"preempting lower priority ({prio}) master {src}"
        return f"master down timer expired: last advert from {src} {age:.1f} s ago"

    def track(self, key: TrackKey, up: bool) -> None:
        spec = next((s for s in self.p.tracks if s.key == key), None)
        if spec is None or self.s.role is Role.INIT:
            return
        # FAULT with no fault yet is keepalived's silent wait for the first script results
        silent = self.s.role is Role.FAULT and not self.faults() and not self.s.faulted_by_group
        self.tracks[key] = up
        if spec.weight:
            self.reprioritise()
            return
        if spec.faulty(up):
            if silent:
                self.emit(RunNotify("FAULT", self.s.priority))
            self.enter_fault(f"{spec.describe()} {'up' if up else 'down'}")
        else:
            self.maybe_recover(f"{spec.describe()} {'up' if up else 'down'}")

    def virtual_deleted(self, what: str) -> None:
        """keepalived's set_vrrp_backup: a master that lost one of its own VIPs or routes
        steps down (priority 0 on the wire, VIPs removed, BACKUP notified) and expires one
        skew time later, so it becomes MASTER again with everything set anew."""
        if self.s.role is not Role.MASTER:
            return  # a backup holds nothing to lose; FAULT has removed it all
        self.log(f"{what} deleted - stepping down to set it again")
        self.leave_master(Role.BACKUP, f"{what} deleted", quick=True)
        self.set(retake=f"{what} deleted")

    def reprioritise(self) -> None:
        new = self.priority_now()
        old = self.s.priority
        if new == old:
            return
        self.log(f"Changing effective priority from {old} to {new}")
        old_down = self.down_us()
        self.set(priority=new)
        if self.p.notify_priority_changes and self.s.role in (Role.MASTER, Role.BACKUP):
            # keepalived's FIFO says INSTANCE "VI_1" MASTER_PRIORITY 80: the role, then the
            # priority it now runs with.
            self.emit(RunNotify(f"{self.s.role.value}_PRIORITY", new))
        at = self.timers.get(Timer.MASTER_DOWN)
        if self.s.role is Role.BACKUP and at is not None:
            # keepalived moves the running deadline by the change in the down interval
            moved = at + timing.seconds(self.down_us() - old_down)
            self.timers[Timer.MASTER_DOWN] = moved
            self.emit(ArmTimer(Timer.MASTER_DOWN, moved))

    def shutdown(self, notify: bool = True) -> None:
        role = self.s.role
        if role is Role.INIT:
            return
        if role is Role.MASTER:
            self.emit(SendAdvert(0))
            self.log("sent 0 priority", Level.DETAIL)
            self.log("removing VIPs.", Level.DETAIL)
            self.emit(RemoveVips())
        self.cancel(*(t for t in Timer if t in self.timers))
        self.transition(Role.INIT, "shutdown")
        if notify:
            self.emit(RunNotify("STOP", self.s.priority))

    def reload(self) -> None:
        known = {spec.key for spec in self.p.tracks}
        for key in list(self.tracks):
            if key not in known:
                del self.tracks[key]
        for spec in self.p.tracks:
            self.tracks.setdefault(spec.key, True if spec.kind is TrackKind.INTERFACE else None)
        if self.s.role is Role.INIT:
            return
        self.reprioritise()
        if self.s.role is Role.MASTER:
            self.set(master_adver_us=self.p.adver_us)
            self.emit(SendAdvert(self.s.priority))
            self.arm(Timer.ADVERT, self.p.adver_us)
        elif self.s.role is Role.BACKUP:
            self.arm(Timer.MASTER_DOWN, self.down_us())
        faults = self.faults()
        if faults:
            self.enter_fault(", ".join(faults) + " down after reload")
        else:
            self.maybe_recover("reload")

    def sync_force(self, role: Role, cause: str, quick: bool = False) -> None:
        current = self.s.role
        if role is Role.FAULT:
            self.set(faulted_by_group=True)
            if current is not Role.INIT:
                self.enter_fault(cause)
        elif role is Role.MASTER:
            if current is Role.BACKUP:
                self.enter_master(cause)
        elif current is Role.MASTER:
            self.leave_master(Role.BACKUP, cause, quick=quick)
            if quick:
                self.set(retake=cause)
        else:
            self.set(wants_master=False)


def _compare(a: IPAddress, b: IPAddress) -> int:
    """-1, 0, 1 as ``a`` is lower, equal, higher than ``b`` (keepalived compares bytes)."""
    pa, pb = a.packed, b.packed
    return (pa > pb) - (pa < pb)


def timers_due(state: InstanceState, now: float) -> list[Timer]:
    """The armed timers whose deadline has passed, earliest first (for simple drivers)."""
    due: Mapping[Timer, float] = {t: at for t, at in state.timers.items() if at <= now}
    return sorted(due, key=lambda t: due[t])
