"""The transition tables in cases/*.jsonl, one test per case, plus invariants across them."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from vrrp_cases import CASES, build_event, build_params, load, render

from astlinux_ha.vrrp import model
from astlinux_ha.vrrp.machine import advert_tick, step
from astlinux_ha.vrrp.model import InstanceState, Role

TABLES = sorted(p for p in CASES.glob("*.jsonl") if not p.name.startswith("sync"))
ALL = [(path.stem, case) for path in TABLES for case in load(path)]
# Only the sync group sends these (model.py says so); the sync tables cover them.
SYNC_ONLY = {model.SyncForce, model.SyncRelease}


def _walk():
    """Every step of every case: (params, state before it, its spec, its event)."""
    for _table, case in ALL:
        params = build_params(case.get("params", {}))
        state = InstanceState()
        for spec in case["steps"]:
            if "reload" in spec["event"]:
                params = build_params({**case.get("params", {}), **spec["event"]["reload"]})
            event = build_event(spec["event"], params)
            yield params, state, spec, event
            state, _ = step(params, state, event, spec["at"], **spec.get("kwargs", {}))


def _replay():
    """Every step of every case: (role before, event, actions the table checks)."""
    for params, state, spec, event in _walk():
        _, actions = step(params, state, event, spec["at"], **spec.get("kwargs", {}))
        checked = actions if "effects" in spec else [
            a for a in actions if render(a) in spec.get("includes", [])]
        yield state.role, event, checked


def test_the_tables_cover_the_whole_vocabulary():
    # Derived from model.py, not a count: a new event, action, role or timer without a case
    # in the tables fails here.
    steps = list(_replay())
    events = {type(e) for _, e, _ in steps}
    assert events == set(typing.get_args(model.Event)) - SYNC_ONLY
    checked = {type(a) for _, _, actions in steps for a in actions}
    assert checked == set(typing.get_args(model.Action))
    reached = {t.to_role for _, _, actions in steps for t in actions
               if isinstance(t, model.Transition)}
    assert reached == set(Role)  # INIT again on shutdown
    expired = {e.timer for _, e, _ in steps if isinstance(e, model.TimerExpired)}
    assert expired == set(model.Timer)
    # Every event reaches the machine in each steady role (INIT only ever sees Start first).
    fed = {(role, type(e)) for role, e, _ in steps}
    kinds = set(typing.get_args(model.Event)) - SYNC_ONLY - {model.Start}
    missing = sorted((role.value, kind.__name__) for kind in kinds
                     for role in (Role.BACKUP, Role.MASTER, Role.FAULT) if (role, kind) not in fed)
    assert missing == [], missing


@pytest.mark.parametrize("table,case", ALL, ids=[f"{t}:{c['case']}" for t, c in ALL])
def test_case(table, case):
    params = build_params(case.get("params", {}))
    state = InstanceState()
    for number, spec in enumerate(case["steps"], 1):
        if "reload" in spec["event"]:
            params = build_params({**case.get("params", {}), **spec["event"]["reload"]})
        event = build_event(spec["event"], params)
        state, actions = step(params, state, event, spec["at"], **spec.get("kwargs", {}))
        got = [render(a) for a in actions]
        where = f"step {number}: {spec['event']}"
        # Effects (what reaches the wire, netlink, scripts, timers) and log lines are checked
        # apart, so a reworded log line never hides in a diff of the effects, and vice versa.
        if "effects" in spec:
            assert [g for g in got if g[0] != "log"] == spec["effects"], where
        if "logs" in spec:
            assert [g[1:] for g in got if g[0] == "log"] == spec["logs"], where
        for wanted in spec.get("includes", []):
            assert wanted in got, f"step {number}: {wanted} not in {got}"
        if "role" in spec:
            assert state.role is Role(spec["role"]), f"step {number}"
        if "priority" in spec:
            assert state.priority == spec["priority"], f"step {number}"
    master = str(state.master_address) if state.master_address else None
    assert {"role": state.role.value, "priority": state.priority,
            "master": master} == case["final"], "the state after the last step"


def test_state_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        InstanceState().role = Role.MASTER  # type: ignore[misc]


def _states():
    """Every (params, state, time, next event, step kwargs) the tables pass through."""
    for params, state, spec, event in _walk():
        yield params, state, spec["at"], event, spec.get("kwargs", {})


def _with_advert_at(state: InstanceState, at: float) -> InstanceState:
    return dataclasses.replace(state, timers={**state.timers, model.Timer.ADVERT: at})


def test_the_advert_fast_path_is_the_step_it_stands_for_in_every_state_the_tables_reach():
    masters = 0
    for params, state, at, event, kwargs in _states():
        now = state.timers.get(model.Timer.ADVERT, at + 0.25)
        want_state, want_actions = step(params, state, model.TimerExpired(model.Timer.ADVERT),
                                        now)
        got_at = advert_tick(params, state, now)
        if got_at is None:
            assert want_actions == [] and want_state == state
            continue
        masters += 1
        # The step's state is the one kept, but for the ADVERT deadline...
        assert want_state == _with_advert_at(state, got_at)
        assert want_actions == [model.SendAdvert(state.priority),
                                model.ArmTimer(model.Timer.ADVERT, got_at)]
        # ... which no step reads: the table's next event does the same from either.
        stale_state, stale_actions = step(params, state, event, at, **kwargs)
        fresh_state, fresh_actions = step(params, _with_advert_at(state, got_at), event, at,
                                          **kwargs)
        assert stale_actions == fresh_actions
        if model.Timer.ADVERT in fresh_state.timers:
            stale_state = _with_advert_at(stale_state, fresh_state.timers[model.Timer.ADVERT])
        assert stale_state == fresh_state
    assert masters > 30  # the tables hold many masters with their advert timer armed
