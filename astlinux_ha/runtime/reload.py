"""What a reload does with each running instance, decided as a value.

An instance is kept in its state only when nothing it runs on changed: its own config, the
globals and scripts blocks, and what it tracks once the scripts are judged again (a track
script refused now, or allowed again, restarts it). With sync groups nothing is kept: a
group's members move together and the group's state is rebuilt. One that changed is restarted
(stopped, its VIPs with it, then built from the new config); one the new config no longer has
is deleted, and reports DELETED before it stops.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from astlinux_ha.config import model as cfg
from astlinux_ha.runtime.plan import InstancePlan, track_specs


class Fate(enum.Enum):
    """What a reload does with one running instance."""

    KEEP = "keep"
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
        """Carried over in their state (their scripts are re-judged all the same)."""
        return self._with(Fate.KEEP)

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
        elif (not had_groups and globals_same and same_instance(plan.config, inst)
              and track_specs(new, inst, usable) == plan.tracks):
            fates[name] = Fate.KEEP
        else:
            fates[name] = Fate.RESTART
    return ReloadPlan(fates)
