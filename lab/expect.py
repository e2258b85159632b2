"""Who should hold each instance, given what the rehearsal has done to the boxes.

A small model of VRRP's outcome (not of its timing): a box whose daemon runs and whose
instance has all its interfaces plugged and no failing zero-weight track script is in the
running, at its priority adjusted by weighted tracking; the higher one wins, equal ones go to
the higher source address; with VRRP blocked every running box is master. A sync group moves
together: a member in FAULT on a box takes the group off that box, and a member lost to the
other box takes the group with it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from astlinux_ha.config import model as cfg

from .rehearse_plan import BACKUP, MASTER, InstancePair, Plan, instance_interfaces


@dataclass
class World:
    """What the scenario has done so far."""

    running: set[str] = field(default_factory=set)
    pulled: dict[str, set[str]] = field(default_factory=lambda: {MASTER: set(), BACKUP: set()})
    failed_scripts: dict[str, set[str]] = field(
        default_factory=lambda: {MASTER: set(), BACKUP: set()})
    priority: dict[str, int | None] = field(default_factory=lambda: {MASTER: None, BACKUP: None})
    blocked: bool = False


def effective_priority(box: str, inst: cfg.VrrpInstance, config: cfg.Config,
                       world: World) -> int | None:
    """``inst``'s priority on ``box`` now, or None when it cannot be master (FAULT, stopped)."""
    if box not in world.running:
        return None
    pulled = world.pulled[box]
    weighted = {t.name: t for t in inst.track_interfaces if t.weight}
    if (instance_interfaces(inst) - set(weighted)) & pulled:
        return None
    prio = world.priority[box] or inst.priority
    for t in weighted.values():
        down = t.name in pulled
        if (t.weight < 0 and down) or (t.weight > 0 and not down):
            prio += t.weight
    for ref in _script_refs(inst, config):
        script = _script(config, ref.name)
        weight = ref.weight if ref.weight is not None else (script.weight if script else 0)
        failing = ref.name in world.failed_scripts[box]
        if weight == 0 and failing:
            return None
        if (weight < 0 and failing) or (weight > 0 and not failing):
            prio += weight
    return max(1, min(254, prio))


def _script_refs(inst: cfg.VrrpInstance, config: cfg.Config) -> list[cfg.TrackScriptRef]:
    refs = list(inst.track_scripts)
    for group in config.sync_groups:
        if inst.name in group.members:
            refs += group.track_scripts
    return refs


def _script(config: cfg.Config, name: str) -> cfg.VrrpScript | None:
    try:
        return config.script(name)
    except KeyError:
        return None


def expected(plan: Plan, configs: dict[str, cfg.Config], world: World) -> dict[str, list[str]]:
    """Per instance pair, the boxes that should hold its VIPs."""
    prios = {p.name: {box: effective_priority(box, p.side(box), configs[box], world)
                      for box in (MASTER, BACKUP)} for p in plan.pairs}
    # A member in FAULT takes its whole sync group off that box.
    for box in (MASTER, BACKUP):
        for members in _groups(plan, configs[box], box):
            if any(prios[name][box] is None for name in members):
                for name in members:
                    prios[name][box] = None
    winners = {p.name: _winner(plan, p, prios[p.name], world) for p in plan.pairs}
    # ...and a member the other box wins drags the group along (keepalived forces them).
    for members in _groups(plan, configs[MASTER], MASTER):
        if not world.blocked and any(winners[n] == [BACKUP] for n in members):
            for name in members:
                if prios[name][BACKUP] is not None:
                    winners[name] = [BACKUP]
    return winners


def _groups(plan: Plan, config: cfg.Config, box: str) -> list[list[str]]:
    by_name = {p.side(box).name: p.name for p in plan.pairs}
    return [[by_name[m] for m in g.members if m in by_name] for g in config.sync_groups]


def _winner(plan: Plan, pair: InstancePair, prio: dict[str, int | None],
            world: World) -> list[str]:
    up = [box for box in (MASTER, BACKUP) if prio[box] is not None]
    if len(up) < 2 or world.blocked:
        return up
    if prio[MASTER] != prio[BACKUP]:
        return [max(up, key=lambda b: prio[b] or 0)]
    # Equal priorities: the higher primary address wins (RFC 3768 6.4.3).
    addr = {box: ipaddress.ip_address(plan.source(box, pair.side(box)) or "0.0.0.0")
            for box in up}
    return [max(up, key=lambda b: int(addr[b]))]
