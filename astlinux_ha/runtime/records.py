"""What the daemon writes for admins and scripts, as functions of plain values: status.json's
contents, one journal line per transition, and the SIGUSR1 / SIGUSR2 dump texts. The caller
passes the wall-clock strings in, so each text is a function of its arguments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from astlinux_ha.vrrp import model as core


@dataclass(frozen=True)
class InstanceView:
    """One running instance as the records show it: its status.json entry and its params."""

    name: str
    status: Mapping[str, Any]
    params: core.InstanceParams


def status(*, pid: int, started: str, updated: str, config: str, reloads: int,
           problems: Sequence[str], counters: Mapping[str, int],
           instances: Iterable[InstanceView],
           groups: Iterable[tuple[str, str, Sequence[str]]]) -> dict[str, Any]:
    """status.json: ``groups`` as (name, state, members) each."""
    return {
        "pid": pid,
        "started": started,
        "updated": updated,
        "config": config,
        "reloads": reloads,
        "problems": list(problems),
        "counters": dict(sorted(counters.items())),
        "instances": {i.name: dict(i.status) for i in instances},
        "sync_groups": {n: {"state": state, "members": list(members)}
                        for n, state, members in groups},
    }


def transition(*, time: str, name: str, t: core.Transition,
               state: core.InstanceState) -> dict[str, Any]:
    """The journal line (transitions.jsonl) of one state change, with its cause."""
    return {
        "time": time,
        "instance": name,
        "from": t.from_role.value,
        "to": t.to_role.value,
        "cause": t.cause,
        "priority": state.priority,
        "master": str(state.master_address) if state.master_address else None,
    }


def data_dump(*, now: str, config_path: str, router_id: str | None,
              instances: Iterable[InstanceView]) -> str:
    """keepalived.data (SIGUSR1): the running config and state."""
    lines = [f"------< astlinux-ha VRRP data, {now} >------", ""]
    lines.append(f" config = {config_path}")
    lines.append(f" router_id = {router_id}")
    for i in instances:
        st, p = i.status, i.params
        lines += [
            "", f" VRRP Instance = {i.name}",
            f"   State = {st['state']}",
            f"   Interface = {st['interface']}",
            f"   Virtual Router ID = {st['vrid']}",
            f"   Version = {st['version']}",
            f"   Priority = {st['priority']}",
            f"   Effective priority = {st['effective_priority']}",
            f"   Advert interval = {p.advert_int} sec",
            f"   Source = {st['source']}",
            f"   Master = {st['master']}",
            f"   Unicast peers = {', '.join(str(a) for a in p.unicast_peers) or '-'}",
            f"   Virtual IP = {', '.join(st['vips']) or '-'}",
            f"   Tracking = {', '.join(t.describe() for t in p.tracks) or '-'}",
            f"   Since = {st['since']}",
        ]
    return "\n".join(lines) + "\n"


def stats_dump(*, now: str, instances: Iterable[tuple[str, Mapping[str, int]]],
               counters: Mapping[str, int], resyncs: int) -> str:
    """keepalived.stats (SIGUSR2): per-instance counters (``instances``: name and counters
    each), then those of packets for no instance."""
    lines = [f"------< astlinux-ha VRRP statistics, {now} >------"]
    for name, own in instances:
        lines += ["", f"VRRP Instance: {name}"]
        lines += [f"  {k}: {v}" for k, v in sorted(own.items())]
    lines += ["", "Packets for no instance:"]
    lines += [f"  {k}: {v}" for k, v in sorted(counters.items())]
    lines += ["", f"Link watcher re-syncs: {resyncs}"]
    return "\n".join(lines) + "\n"
