"""The transition tables in cases/*.jsonl, one test per case, plus invariants across them."""

from __future__ import annotations

import dataclasses

import pytest
from vrrp_cases import CASES, build_event, build_params, load, render

from astlinux_ha.vrrp.machine import step
from astlinux_ha.vrrp.model import InstanceState, Role

TABLES = sorted(p for p in CASES.glob("*.jsonl") if not p.name.startswith("sync"))
ALL = [(path.stem, case) for path in TABLES for case in load(path)]


def test_tables_are_there():
    assert len(ALL) >= 30


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
        if "expect" in spec:
            assert got == spec["expect"], f"step {number}: {spec['event']}"
        for wanted in spec.get("includes", []):
            assert wanted in got, f"step {number}: {wanted} not in {got}"
        if "role" in spec:
            assert state.role is Role(spec["role"]), f"step {number}"
        if "priority" in spec:
            assert state.priority == spec["priority"], f"step {number}"


def test_state_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        InstanceState().role = Role.MASTER  # type: ignore[misc]
