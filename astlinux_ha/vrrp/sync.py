"""Sync groups: member instances move between states together (keepalived's vrrp_sync.c).

One member entering FAULT forces the others to FAULT until no member has a fault of its own;
one entering BACKUP forces masters back to BACKUP; a member may only become MASTER when every
other member wants to as well (or the group already is master), and then all go MASTER.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from .machine import own_faults, pending_tracks, step
from .model import (
    Action,
    Event,
    InstanceParams,
    InstanceState,
    Level,
    Log,
    Role,
    RunNotify,
    SyncForce,
    SyncRelease,
)


@dataclass(frozen=True, slots=True)
class Member:
    """A member instance's params and current state."""

    params: InstanceParams
    state: InstanceState


@dataclass(frozen=True, slots=True)
class GroupStep:
    """The outcome of one event: every member's new state, and actions per member name.

    ``group_actions`` are the group's own log lines and notifies (``RunNotify`` with
    priority 0, as keepalived notifies groups).
    """

    role: Role
    states: Mapping[str, InstanceState]
    actions: Mapping[str, list[Action]]
    group_actions: list[Action]


def group_step(
    name: str,
    role: Role,
    members: Mapping[str, Member],
    target: str,
    event: Event,
    now: float,
) -> GroupStep:
    """Deliver ``event`` to member ``target`` of group ``name`` (now in ``role``), then
    move the other members as the group rules say."""
    states = {n: m.state for n, m in members.items()}
    actions: dict[str, list[Action]] = {n: [] for n in members}
    group_actions: list[Action] = []

    def others(of: str) -> list[str]:
        return [n for n in members if n != of]

    def faulty(n: str) -> bool:
        return bool(own_faults(members[n].params, states[n]))

    def deliver(n: str, ev: Event, *, may_master: bool = True) -> Role:
        before = states[n].role
        states[n], acts = step(members[n].params, states[n], ev, now, may_master=may_master)
        actions[n] += acts
        return before

    if any(faulty(n) for n in others(target)):
        # another member still has its own fault: this one may not leave FAULT yet
        states[target] = dataclasses.replace(states[target], faulted_by_group=True)
    may_master = role is Role.MASTER or all(
        states[n].role is Role.MASTER or states[n].wants_master for n in others(target)
    )
    before = deliver(target, event, may_master=may_master)
    after = states[target].role
    new_role = role
    if after is not before:
        if after is Role.FAULT:
            for n in others(target):
                deliver(n, SyncForce(Role.FAULT, f"sync group {name}: {target} in FAULT"))
            new_role = Role.FAULT
        elif after is Role.MASTER:
            for n in others(target):
                deliver(n, SyncForce(Role.MASTER, f"sync group {name}: {target} became MASTER"))
            new_role = Role.MASTER
        elif after is Role.BACKUP:
            # A member that lost a VIP or route comes back at once: so do the others.
            quick = states[target].retake is not None
            for n in others(target):
                deliver(n, SyncForce(Role.BACKUP, f"sync group {name}: {target} in BACKUP",
                                     quick=quick))
            new_role = Role.BACKUP
    if not any(faulty(n) or pending_tracks(members[n].params, states[n]) for n in members):
        for n in members:
            if states[n].faulted_by_group:
                deliver(n, SyncRelease())
                if states[n].role is Role.BACKUP and new_role is Role.FAULT:
                    new_role = Role.BACKUP
    if new_role is not role and new_role is not Role.INIT:
        group_actions.append(Log(Level.INFO, f"VRRP_Group({name}) Syncing instances to "
                                 f"{new_role.value} state"))
        group_actions.append(RunNotify(new_role.value, 0))
    return GroupStep(new_role, states, actions, group_actions)


def start_notify(name: str, members: Mapping[str, Member],
                 starts: Mapping[str, Event], now: float) -> list[Action]:
    """What group ``name`` announces as its members start, before their own notifies.

    keepalived (vrrp_init_state) notifies a group that starts in BACKUP ahead of its
    members: the group's notify_backup, ``GROUP G1 BACKUP 0`` to its notify script and the
    FIFO. A group that starts in FAULT, or with a member going straight to MASTER (an address
    owner), is announced by the members' own steps (:func:`group_step`), so nothing here.
    """
    if set(starts) != set(members):
        return []
    for n, m in members.items():
        state, _ = step(m.params, m.state, starts[n], now)
        if state.role is not Role.BACKUP:
            return []
    return [RunNotify(Role.BACKUP.value, 0)]
