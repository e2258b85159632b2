"""A sync group's shell: its members' events go through the core's group rules
(:func:`astlinux_ha.vrrp.sync.group_step`), and the outcome is applied to each member."""

from __future__ import annotations

import functools
import logging
from typing import Any

from astlinux_ha.config import model as cfg
from astlinux_ha.instance import InstanceRunner
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.sync import Member, group_step, start_notify


class SyncGroupRunner:
    """Routes every member's events through the sync-group rules of the core."""

    def __init__(self, group: cfg.SyncGroup, members: list[InstanceRunner], notifier: Any,
                 log: logging.Logger, clock: Any) -> None:
        self.name = group.name
        self.members = {m.name: m for m in members}
        self.notifier = notifier
        self.log = log
        self.clock = clock
        self.role = core.Role.BACKUP
        for m in members:
            m.deliver = functools.partial(self.dispatch, m.name)

    def announce_start(self, starts: dict[str, core.Start]) -> None:
        """Before the members start (``starts``: each one's Start): a group that starts in
        BACKUP is notified ahead of them, as keepalived does."""
        members = {n: Member(r.params, r.state) for n, r in self.members.items()}
        for action in start_notify(self.name, members, starts, self.clock.time()):
            if isinstance(action, core.RunNotify):
                self.notifier.notify(action.state, action.priority)

    def dispatch(self, target: str, event: core.Event) -> None:
        """Step the group with ``event`` for member ``target`` and apply every outcome."""
        members = {n: Member(r.params, r.state) for n, r in self.members.items()}
        out = group_step(self.name, self.role, members, target, event, self.clock.time())
        self.role = out.role
        for name, r in self.members.items():
            r.apply(out.states[name], out.actions.get(name, []))
        for action in out.group_actions:
            match action:
                case core.Log(message=message):
                    self.log.info(message)
                case core.RunNotify(state=state, priority=priority):
                    self.notifier.notify(state, priority)
