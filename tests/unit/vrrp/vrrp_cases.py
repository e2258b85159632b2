"""Reading and running the JSON-lines transition tables in ``cases/``.

One line is one case: ``params`` (overrides of the seed backup, below), then ``steps``, each
an event at a fake-clock time with the exact ``effects`` it must produce (every action but
logging; timer deadlines rounded to the millisecond, so the table states the formula's value)
and, apart, the exact ``logs`` lines (level, text), or only actions it ``includes``; optionally
the role it must leave the instance in; then ``final``, the state snapshot (role, priority,
master) after the last step. Sync-group cases (``members``) feed events to one member.
"""

from __future__ import annotations

import ipaddress
import json
import pathlib
from typing import Any

from astlinux_ha.vrrp import model
from astlinux_ha.vrrp.model import (
    AdvertReceived,
    Event,
    Garp,
    InstanceParams,
    Role,
    Timer,
    TimerExpired,
)
from astlinux_ha.vrrp.packet import Advert
from astlinux_ha.vrrp.tracking import TrackKind, TrackSpec

CASES = pathlib.Path(__file__).parent / "cases"

SEED_BACKUP: dict[str, Any] = {
    "name": "VI_1", "vrid": 50, "primary": "10.10.50.65", "priority": 99,
    "peers": ["10.10.50.62"], "vips": ["10.10.50.244"], "tracks": [["interface", "eth0"]],
}


def load(path: pathlib.Path) -> list[dict[str, Any]]:
    """The cases of one table, each with its ``case`` name."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def build_params(overrides: dict[str, Any]) -> InstanceParams:
    """InstanceParams from the seed backup plus ``overrides``."""
    p = {**SEED_BACKUP, **overrides}
    ip = ipaddress.ip_address
    return InstanceParams(
        name=p["name"], vrid=p["vrid"], primary_address=ip(p["primary"]),
        version=p.get("version", 2), priority=p["priority"],
        advert_int=p.get("advert_int", 1.0), init_state=Role(p.get("init_state", "BACKUP")),
        nopreempt=p.get("nopreempt", False), preempt_delay=p.get("preempt_delay", 0.0),
        unicast_peers=tuple(ip(a) for a in p["peers"]), vips=tuple(ip(a) for a in p["vips"]),
        garp=Garp(**p.get("garp", {})), down_timer_adverts=p.get("down_timer_adverts", 3),
        lower_prio_no_advert=p.get("lower_prio_no_advert", False),
        higher_prio_send_advert=p.get("higher_prio_send_advert", False),
        notify_priority_changes=p.get("notify_priority_changes", False),
        tracks=tuple(
            TrackSpec(TrackKind(t[0]), t[1], *(t[2:])) for t in p["tracks"]
        ),
    )


def build_event(spec: dict[str, Any], params: InstanceParams) -> Event:
    """An event from its JSON form, e.g. ``{"advert": {"src": ..., "priority": 100}}``."""
    (kind, arg), = spec.items()
    ip = ipaddress.ip_address
    if kind == "start":
        down = frozenset((TrackKind(k), n) for k, n in arg.get("down", []))
        return model.Start(down)
    if kind == "advert":
        version = arg.get("version", params.version)
        interval = arg.get("interval", 1 if version == 2 else round(params.advert_int * 100))
        addrs = tuple(ip(a) for a in arg.get("addresses", [str(v) for v in params.vips]))
        advert = Advert(version, params.vrid, arg["priority"], interval, addrs)
        return AdvertReceived(advert, ip(arg["src"]))
    if kind == "timer":
        return TimerExpired(Timer(arg))
    if kind == "if_down":
        return model.InterfaceDown(arg)
    if kind == "if_up":
        return model.InterfaceUp(arg)
    if kind == "track":
        return model.TrackResult(arg[0], arg[1])
    if kind == "source":
        return model.SourceAddress(ip(arg[0]), arg[1])
    if kind == "deleted":
        return model.VirtualDeleted(arg)
    if kind == "shutdown":
        return model.Shutdown(**arg)
    if kind == "reload":
        return model.Reload()
    raise ValueError(f"unknown event {kind}")


def render(action: model.Action) -> list[Any]:
    """An action as the compact list the tables use."""
    match action:
        case model.SendAdvert(priority):
            return ["send", priority]
        case model.AddVips():
            return ["add_vips"]
        case model.RemoveVips(force):
            return ["remove_vips", force]
        case model.SendGratuitous(repeat):
            return ["garp", repeat]
        case model.RunNotify(state, priority):
            return ["notify", state, priority]
        case model.ArmTimer(timer, at):
            return ["arm", timer.value, round(at, 3)]
        case model.CancelTimer(timer):
            return ["cancel", timer.value]
        case model.Log(level, message):
            return ["log", level.value, message]
        case model.Transition(from_role, to_role, cause):
            return ["transition", from_role.value, to_role.value, cause]
    raise TypeError(action)  # pragma: no cover - every action type is listed above
