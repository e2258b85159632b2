"""Sync groups, from the JSON-lines table cases/sync.jsonl (two members, VI_1 and VI_2)."""

from __future__ import annotations

import pytest
from vrrp_cases import CASES, build_event, build_params, load, render

from astlinux_ha.vrrp.model import InstanceState, Role
from astlinux_ha.vrrp.sync import Member, group_step, start_notify

# Two multicast instances sharing a group; each tracks its own interface.
MEMBERS = {
    "VI_1": {"name": "VI_1", "vrid": 50, "primary": "10.10.50.62", "priority": 100,
             "peers": [], "tracks": [["interface", "eth0"]]},
    "VI_2": {"name": "VI_2", "vrid": 51, "primary": "10.10.50.62", "priority": 100,
             "peers": [], "tracks": [["interface", "eth1"]]},
}
CASES_ = load(CASES / "sync.jsonl")


@pytest.mark.parametrize("case", CASES_, ids=[c["case"] for c in CASES_])
def test_sync_case(case):
    params = {n: build_params(p) for n, p in MEMBERS.items()}
    states = {n: InstanceState() for n in MEMBERS}
    role = Role.INIT
    for number, spec in enumerate(case["steps"], 1):
        members = {n: Member(params[n], states[n]) for n in MEMBERS}
        target = spec["target"]
        event = build_event(spec["event"], params[target])
        result = group_step("G1", role, members, target, event, spec["at"])
        role, states = result.role, dict(result.states)
        got = {n: [render(a) for a in acts] for n, acts in result.actions.items()}
        where = f"step {number}: {target} {spec['event']}"
        for name, wanted in spec.get("expect", {}).items():
            assert got[name] == wanted, where
        for name, wanted in spec.get("includes", {}).items():
            for action in wanted:
                assert action in got[name], f"{where}: {action} not in {got[name]}"
        for name, wanted_role in spec.get("roles", {}).items():
            assert states[name].role is Role(wanted_role), f"{where}: {name}"
        if "group_role" in spec:
            assert role is Role(spec["group_role"]), where
        if "group" in spec:
            assert [render(a) for a in result.group_actions] == spec["group"], where


def _fresh() -> dict[str, Member]:
    return {n: Member(build_params(p), InstanceState()) for n, p in MEMBERS.items()}


def test_a_group_starting_in_backup_is_announced_before_its_members() -> None:
    # keepalived's vrrp_init_state: GROUP G1 BACKUP 0 (notify_backup, notify, FIFO) first.
    starts = {n: build_event({"start": {}}, build_params(p)) for n, p in MEMBERS.items()}
    assert [render(a) for a in start_notify("G1", _fresh(), starts, 0.0)] == [
        ["notify", "BACKUP", 0]]


def test_a_group_starting_in_fault_is_left_to_its_members_steps() -> None:
    starts = {n: build_event({"start": {}}, build_params(p)) for n, p in MEMBERS.items()}
    starts["VI_2"] = build_event({"start": {"down": [["interface", "eth1"]]}},
                                 build_params(MEMBERS["VI_2"]))
    assert start_notify("G1", _fresh(), starts, 0.0) == []
    # Nor is a group only some of whose members start now.
    assert start_notify("G1", _fresh(), {"VI_1": starts["VI_1"]}, 0.0) == []
