"""What a reload does with each running instance, decided as a value.

An instance is kept in its state only when nothing it runs on changed: its own config, the
globals and scripts blocks, and what it tracks once the scripts are judged again (a track
script refused now, or allowed again, restarts it). One whose only change is what it holds
(virtual_ipaddress, virtual_ipaddress_excluded, virtual_routes) is updated in place, as
keepalived does: no notify, no gap; a master adds the new addresses, deletes the dropped ones
and announces the new. With sync groups nothing is kept: a group's members move together and
the group's state is rebuilt. One that changed otherwise is restarted (stopped, its VIPs with
it, then built from the new config); one the new config no longer has is deleted, and reports
DELETED (FAULT without notify_deleted) as it goes, and nothing else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from astlinux_ha.config import model as cfg
from astlinux_ha.runtime.plan import InstancePlan, family_of, track_specs, vmac


class Fate(enum.Enum):
    """What a reload does with one running instance."""

    KEEP = "keep"
    UPDATE = "update"  # kept in its state, its VIPs / routes swapped in place
    RESTART = "restart"
    DELETE = "delete"


@dataclass(frozen=True)
class ReloadPlan:
    """Each running instance's fate, in the order they run."""

    fates: Mapping[str, Fate]

    def _with(self, *fates: Fate) -> tuple[str, ...]:
        return tuple(n for n, f in self.fates.items() if f in fates)

    @property
    def keep(self) -> tuple[str, ...]:
        """Carried over in their state (their scripts are re-judged all the same), the
        updated in place among them."""
        return self._with(Fate.KEEP, Fate.UPDATE)

    @property
    def update(self) -> tuple[str, ...]:
        """Carried over with their VIPs / routes changed: given the new plan in place."""
        return self._with(Fate.UPDATE)

    @property
    def restart(self) -> tuple[str, ...]:
        """Changed: stopped now, started again from the new config."""
        return self._with(Fate.RESTART)

    @property
    def delete(self) -> tuple[str, ...]:
        """Gone from the new config: stopped for good."""
        return self._with(Fate.DELETE)

    @property
    def stop(self) -> tuple[str, ...]:
        """Every instance the reload stops (restarted and deleted), in running order."""
        return self._with(Fate.RESTART, Fate.DELETE)

    def notifies_deleted(self, name: str) -> bool:
        """Whether ``name`` reports DELETED as it stops: only when the new config lacks it
        (a restarted instance just stops and starts again)."""
        return self.fates.get(name) is Fate.DELETE


def strip(value: Any) -> Any:
    """A comparable form of a config item with every source location dropped."""
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(strip(v) for v in value)
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is None:
        return value
    return tuple((n, strip(getattr(value, n))) for n in fields
                 if n not in ("where", "member_where"))


def same_instance(a: cfg.VrrpInstance, b: cfg.VrrpInstance) -> bool:
    """Whether an instance's config is unchanged, wherever its lines moved in the file."""
    return bool(strip(a) == strip(b))


# What an instance holds rather than how it runs: keepalived swaps these on a reload.
HELD = ("virtual_ipaddresses", "virtual_ipaddresses_excluded", "virtual_routes")
_HELD_KEYWORDS = frozenset({"virtual_ipaddress", "virtual_ipaddress_excluded",
                            "virtual_routes", *HELD})


def _unheld(inst: cfg.VrrpInstance) -> Any:
    return tuple((n, v) for n, v in strip(inst)
                 if n not in HELD and n != "explicit") + (
        ("explicit", frozenset(inst.explicit) - _HELD_KEYWORDS),)


def only_held_changed(a: cfg.VrrpInstance, b: cfg.VrrpInstance) -> bool:
    """Whether ``a`` and ``b`` differ in their VIPs, excluded VIPs or routes alone (and in the
    same address family, which the socket depends on)."""
    return (not same_instance(a, b) and bool(_unheld(a) == _unheld(b))
            and family_of(a) == family_of(b))


def same_globals(a: cfg.Config, b: cfg.Config) -> bool:
    """Whether the global_defs and vrrp_script blocks are unchanged (locations aside)."""
    return bool(strip(a.global_defs) == strip(b.global_defs)
                and strip(a.scripts) == strip(b.scripts))


def plan_reload(old: cfg.Config, running: Mapping[str, InstancePlan], had_groups: bool,
                new: cfg.Config, usable: frozenset[str]) -> ReloadPlan:
    """The fate of each running instance (``running``: name to the plan it runs) when
    ``new`` replaces ``old``; ``usable``: the vrrp_scripts that passed today's check."""
    by_name = {i.name: i for i in reversed(new.instances)}  # the first copy, as the parser
    globals_same = same_globals(old, new)
    fates: dict[str, Fate] = {}
    for name, plan in running.items():
        inst = by_name.get(name)
        if inst is None:
            fates[name] = Fate.DELETE
        elif (not had_groups and globals_same
              and track_specs(new, inst, usable) == plan.tracks
              # use_vmac's default name depends on the instances ahead of it
              and vmac(inst, new.instances) == plan.vmac):
            if same_instance(plan.config, inst):
                fates[name] = Fate.KEEP
            elif only_held_changed(plan.config, inst):
                fates[name] = Fate.UPDATE
            else:
                fates[name] = Fate.RESTART
        else:
            fates[name] = Fate.RESTART
    return ReloadPlan(fates)
