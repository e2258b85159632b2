"""Semantic checks with keepalived's limits, and keepalived's derived values.

keepalived completes each instance after reading it (vrrp.c: vrrp_complete_instance): it
deduces the version from the address family, rounds the advert interval for the version,
gives a ``state MASTER`` instance without a priority 255, clears nopreempt for initial
masters, drops VIPs of the wrong family, and so on. :func:`complete` does the same and
returns the resulting config with every problem found on the way.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any

from astlinux_ha.problems import Location, Problem, Severity
from astlinux_ha.vrrp.packet import AuthType

from .model import (
    Config,
    State,
    SyncGroup,
    VirtualAddress,
    VrrpInstance,
)
from .values import Reporter

V3_MAX_ADVERT = 40.95
# Per model class: its field names, as a set, all their values at once, and each slot's setter.
_FIELDS: dict[type, tuple[frozenset[str], Callable[[Any], tuple[Any, ...]],
                          tuple[Callable[[Any, Any], None], ...]]] = {}


def replace_fields(obj: Any, changes: dict[str, Any]) -> Any:
    """``dataclasses.replace(obj, **changes)`` for the model's frozen, slotted dataclasses, in
    a third of its time (nearly every instance is copied once; 5000 cost 45 ms with replace).

    The same object replace builds: the model's classes have no ``__post_init__`` and no
    ``init=False`` field, so their ``__init__`` only stores each value, which this does
    through the slots' own setters (what ``object.__setattr__`` would look up by name).
    """
    cls = type(obj)
    known = _FIELDS.get(cls)
    if known is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        if len(names) < 2:  # attrgetter of one name gives the value, not a tuple
            return dataclasses.replace(obj, **changes)
        setters = tuple(cls.__dict__[name].__set__ for name in names)  # KeyError: no slots
        known = _FIELDS[cls] = (frozenset(names), operator.attrgetter(*names), setters)
    allowed, values, setters = known
    if not allowed.issuperset(changes):
        unknown = changes.keys() - allowed
        raise TypeError(f"{cls.__name__} has no field {sorted(unknown)[0]!r}")
    new = object.__new__(cls)
    for store, value in zip(setters, values(obj), strict=True):
        store(new, value)
    for name, value in changes.items():
        object.__setattr__(new, name, value)
    return new


def _round_half_up(value: float, step: float) -> float:
    """Round to a multiple of ``step`` as keepalived's integer arithmetic does (half up)."""
    units = int(round(value * 1_000_000))
    quantum = int(round(step * 1_000_000))
    return ((units + quantum // 2) // quantum) * quantum / 1_000_000


def _advert_int(rep: Reporter, inst: VrrpInstance, version: int) -> float:
    where = inst.where
    value = inst.advert_int
    if version == 2:
        if abs(value - round(value)) > 1e-9:
            rounded = max(1.0, _round_half_up(value, 1.0))
            rep.error(
                where,
                f"({inst.name}) VRRPv2 advertisement interval {value:g}s must be"
                f" an integer - rounding to {rounded:g}s",
            )
            return rounded
        return value
    if value > V3_MAX_ADVERT:
        rep.error(
            where,
            f"({inst.name}) VRRPv3 advertisement interval {value:g}s is out of range"
            f" - must be at most {V3_MAX_ADVERT}s; using {V3_MAX_ADVERT}s",
        )
        return V3_MAX_ADVERT
    rounded = min(V3_MAX_ADVERT, max(0.01, _round_half_up(value, 0.01)))
    if abs(rounded - value) > 1e-9:
        rep.error(
            where,
            f"({inst.name}) VRRPv3 advertisement interval {value:g}s must be in"
            f" units of 10ms - rounding to {rounded:g}s",
        )
    return rounded


def complete_instance(
    rep: Reporter, inst: VrrpInstance, script_names: set[str]
) -> VrrpInstance | None:
    """Apply keepalived's per-instance derivations and checks to one instance.

    None when the instance cannot run: keepalived 2.4.3 then drops just that instance (its
    vrrp_complete_instance returns false) and runs the others, so each reason is an ERROR
    here; :func:`complete` makes it fatal only when no instance is left.
    """
    name = inst.name
    where = inst.where
    changes: dict[str, Any] = {}
    # Every check still runs after a reason to drop the instance: -t lists them all at once.
    dropped = False
    if inst.interface is None:
        dropped = _without_interface(rep, inst, changes) or dropped
    if inst.virtual_router_id is None:
        rep.error(
            where,
            f"({name}) the virtual router id (virtual_router_id 1-255) must be set"
            " - ignoring this instance",
        )
        dropped = True

    vips = changes.get("virtual_ipaddresses", inst.virtual_ipaddresses)
    assert isinstance(vips, tuple)
    family = inst.family
    # eVIPs may be of either family; keepalived only insists on one family for the VIPs.
    kept = vips
    stray = [v for v in vips if v.address.version != family]
    for vip in stray:
        rep.error(
            vip.where,
            f"({name}) virtual_ipaddress {vip.address} is IPv{vip.family}"
            f" but the instance is IPv{family} - all VIPs must be one family;"
            " ignoring it",
        )
    if stray:
        kept = changes["virtual_ipaddresses"] = tuple(
            v for v in vips if v.address.version == family)

    version = inst.version
    if family == 6 and version == 2:
        if "version" in inst.explicit:
            rep.error(where, f"({name}) cannot use IPv6 with VRRP version 2 - using version 3")
        version = 3
        changes["version"] = 3
    advert = _advert_int(rep, inst, version)
    if advert != inst.advert_int:
        changes["advert_int"] = advert

    for key in ("unicast_src_ip", "mcast_src_ip"):
        addr = getattr(inst, key)
        if addr is not None and addr.version != family:
            rep.error(
                where,
                f"({name}) {key} {addr} is not of the instance's family"
                f" (IPv{family}) - ignoring it",
            )
            changes[key] = None
    stray_peers = [p for p in inst.unicast_peers if p.address.version != family]
    for peer in stray_peers:
        rep.error(
            peer.where, f"({name}) unicast_peer {peer.address} is not IPv{family} - ignoring it"
        )
    if stray_peers:
        changes["unicast_peers"] = tuple(
            p for p in inst.unicast_peers if p.address.version == family)

    if not kept and not _no_vips(rep, inst, version):
        dropped = True
    priority = inst.priority
    if inst.state is State.MASTER and "priority" not in inst.explicit:
        priority = changes["priority"] = 255  # keepalived: an initial MASTER owns the VIPs
    if inst.accept is None:
        changes["accept"] = priority == 255 or not inst.strict_mode
    # One copy for the common case; the stages below only copy again when they change
    # something (keeps a 255-instance config inside the parse budget).
    done = replace_fields(inst, changes) if changes else inst
    if inst.strict_mode and inst.unicast_peers:
        rep.error(where, f"({name}) Unicast peers are not supported in strict mode")
        dropped = True
    for stage in (_unicast_without_peers, _preemption, _strict, _authentication, _accept,
                  _strict_adverts):
        done = stage(rep, done)
    done = _tracks(rep, done, script_names)
    return None if dropped else done


def _without_interface(rep: Reporter, inst: VrrpInstance, changes: dict[str, Any]) -> bool:
    """keepalived 2.4.3's rules for an instance without 'interface' (vrrp.c,
    vrrp_complete_instance); True when it cannot run.

    Such an instance sends from its unicast_src_ip, unbound, routed by the kernel, and its
    VIPs go on the devices they name; with no interface to join a group on, it is unicast.
    """
    name = inst.name
    where = inst.where
    dropped = False
    if not inst.unicast_peers:
        rep.error(where, f"({name}) multicast needs an interface; give 'interface' or "
                  "unicast_peer - ignoring this instance")
        dropped = True
    source = inst.unicast_src_ip or inst.mcast_src_ip
    if source is None:
        # keepalived's wording; both src keywords set the same field (vrrp_srcip_handler).
        rep.error(where, f"({name}): Unicast instances must have unicast_src_ip or interface")
        dropped = True
    elif source.version == 6 and source.is_link_local:
        rep.error(where, f"({name}) Non link-local address required if interface omitted")
        dropped = True
    # A VIP without 'dev' would go on the instance's interface; there is none.
    for field, kind in (("virtual_ipaddresses", "vip"), ("virtual_ipaddresses_excluded", "evip")):
        vips: tuple[VirtualAddress, ...] = getattr(inst, field)
        kept = tuple(v for v in vips if v.device is not None)
        for vip in vips:
            if vip.device is None:
                rep.error(vip.where, f"({name}): no interface for {kind} {vip.address} - removing")
        if len(kept) != len(vips):
            changes[field] = kept
    return dropped


def _no_vips(rep: Reporter, inst: VrrpInstance, version: int) -> bool:
    """keepalived needs a VIP for v3, IPv6 or strict mode and only warns otherwise; False
    when the instance cannot run."""
    if version == 3 or inst.family == 6 or inst.strict_mode:
        rep.error(
            inst.where,
            f"({inst.name}) No VIP specified; at least one is required - ignoring this instance",
        )
        return False
    rep.error(inst.where, f"({inst.name}) No VIP specified; at least one is sensible")
    return True


def _preemption(rep: Reporter, inst: VrrpInstance) -> VrrpInstance:
    """What an initial MASTER or an address owner cannot have."""
    name = inst.name
    where = inst.where
    changes: dict[str, Any] = {}
    nopreempt = inst.nopreempt
    if inst.priority == 255 and nopreempt:
        rep.error(
            where, f"({name}) nopreempt is incompatible with priority 255. resetting nopreempt"
        )
        nopreempt = changes["nopreempt"] = False
    preempt_delay = inst.preempt_delay
    if inst.state is State.MASTER:
        if nopreempt:
            rep.error(
                where,
                f"({name}) Warning - nopreempt will not work with initial state MASTER - clearing",
            )
            nopreempt = changes["nopreempt"] = False
        if preempt_delay:
            rep.error(
                where,
                f"({name}) Warning - preempt delay will not work with initial state MASTER"
                " - clearing",
            )
            preempt_delay = changes["preempt_delay"] = 0.0
    if preempt_delay and nopreempt:
        rep.error(where, f"({name}) preempt_delay is incompatible with nopreempt mode - resetting")
        changes["preempt_delay"] = 0.0
    return dataclasses.replace(inst, **changes) if changes else inst


def _strict(rep: Reporter, inst: VrrpInstance) -> VrrpInstance:
    """strict_mode (vrrp_strict) refusals, with keepalived's wording."""
    name = inst.name
    where = inst.where
    if not inst.strict_mode:
        return inst
    changes: dict[str, Any] = {}
    if (inst.state is State.MASTER) != (inst.priority == 255):
        rep.error(where, f"({name}) State MASTER must match being address owner")
        changes["state"] = State.MASTER if inst.priority == 255 else State.BACKUP
    _ipv6_link_local(rep, inst)
    if inst.preempt_delay:
        rep.error(where, f"({name}) preempt_delay is incompatible with strict mode - resetting")
        changes["preempt_delay"] = 0.0
    garp = inst.garp
    if garp.lower_prio_repeat or garp.lower_prio_delay:
        if garp.lower_prio_repeat:
            rep.error(where, f"({name}) Strict mode requires no repeat garps. resetting")
        if garp.lower_prio_delay:
            rep.error(where, f"({name}) Strict mode requires no repeat garp delay. resetting")
        changes["garp"] = dataclasses.replace(garp, lower_prio_repeat=0, lower_prio_delay=0.0)
    if inst.down_timer_adverts != 3:
        rep.error(
            where, f"({name}) down_timer_adverts is incompatible with strict mode - resetting"
        )
        changes["down_timer_adverts"] = 3
    return dataclasses.replace(inst, **changes) if changes else inst


def _ipv6_link_local(rep: Reporter, inst: VrrpInstance) -> None:
    """RFC 5798: with multicast adverts the first IPv6 VIP must be link-local (strict only;
    keepalived merely logs it otherwise, which -t does not show)."""
    vips = inst.virtual_ipaddresses
    if inst.family == 6 and not inst.unicast and vips and not vips[0].address.is_link_local:
        rep.error(vips[0].where, f"({inst.name}) the first IPv6 VIP address must be link local")


def _authentication(rep: Reporter, inst: VrrpInstance) -> VrrpInstance:
    """Authentication only exists in VRRPv2, outside strict mode, with a password."""
    auth = inst.authentication
    if auth is None:
        return inst
    name = inst.name
    reason = None
    if inst.strict_mode:
        reason = "Strict mode does not support authentication. Ignoring."
    elif inst.version == 3:
        reason = "VRRP version 3 does not support authentication. Ignoring."
    elif not auth.password:
        reason = "Authentication specified but no password given. Ignoring"
    if reason:
        rep.error(auth.where, f"({name}) {reason}")
        return dataclasses.replace(inst, authentication=None)
    if auth.auth_type is AuthType.AH and inst.state is State.MASTER:
        rep.error(
            auth.where,
            f"({name}) Initial state master is incompatible with AH authentication - clearing",
        )
        return dataclasses.replace(inst, state=State.BACKUP)
    return inst


def _accept(rep: Reporter, inst: VrrpInstance) -> VrrpInstance:
    """Strict VRRPv2 has no accept mode except for the owner (RFC 3768)."""
    if inst.accept and inst.priority != 255 and inst.strict_mode and inst.version == 2:
        rep.error(
            inst.where,
            f"({inst.name}) warning - accept mode for VRRP version 2 does not comply with"
            " RFC3768 - resetting",
        )
        return dataclasses.replace(inst, accept=False)
    return inst


def _strict_adverts(rep: Reporter, inst: VrrpInstance) -> VrrpInstance:
    """Strict mode answers no lower-priority advert and sends none to a higher-priority one
    (keepalived's defaults then, and its wording when the config asks otherwise)."""
    if not inst.strict_mode:
        return inst
    name = inst.name
    if "lower_prio_no_advert" in inst.explicit and not inst.lower_prio_no_advert:
        rep.error(inst.where, f"({name}) Strict mode requires no lower priority advert. resetting")
    if "higher_prio_send_advert" in inst.explicit and inst.higher_prio_send_advert:
        rep.error(inst.where,
                  f"({name}) strict mode requires higher_prio_send_advert to be clear. resetting")
    if inst.lower_prio_no_advert and not inst.higher_prio_send_advert:
        return inst
    return dataclasses.replace(inst, lower_prio_no_advert=True, higher_prio_send_advert=False)


def _tracks(rep: Reporter, inst: VrrpInstance, script_names: set[str]) -> VrrpInstance:
    """Drop track entries keepalived drops: its own interface, an undefined vrrp_script."""
    if not inst.track_interfaces and not inst.track_scripts:
        return inst
    changes: dict[str, Any] = {}
    interfaces = tuple(t for t in inst.track_interfaces if t.name != inst.interface)
    if len(interfaces) != len(inst.track_interfaces):
        # The instance's own interface is always tracked (unless dont_track_primary).
        rep.error(
            inst.where,
            f"({inst.name}) Ignoring track_interface {inst.interface} since own interface",
        )
        changes["track_interfaces"] = interfaces
    tracks = []
    for ref in inst.track_scripts:
        if ref.name in script_names:
            tracks.append(ref)
        else:
            rep.error(
                ref.where,
                f"({inst.name}) track script {ref.name} not found, ignoring...",
            )
    if len(tracks) != len(inst.track_scripts):
        changes["track_scripts"] = tuple(tracks)
    return dataclasses.replace(inst, **changes) if changes else inst


def _unicast_without_peers(rep: Reporter, inst: VrrpInstance) -> VrrpInstance:
    """A unicast keyword without peers means multicast; keepalived calls that deprecated
    (and its -t exits 5 for it, so this is an error here too)."""
    if not inst.unicast_peers and (
        inst.unicast_src_ip is not None or "check_unicast_src" in inst.explicit
    ):
        rep.error(
            inst.where,
            f"({inst.name}) A unicast keyword has been specified without any unicast peers."
            " Defaulting to multicast. This usage is deprecated - please update your"
            " configuration.",
        )
    return inst


def _sync_groups(
    rep: Reporter, groups: tuple[SyncGroup, ...], instances: dict[str, VrrpInstance],
    scripts: dict[str, int],
) -> tuple[SyncGroup, ...]:
    """Resolve members as keepalived's vrrp_sync_set_group does; drop groups left empty."""
    out: list[SyncGroup] = []
    owner: dict[str, str] = {}
    for group in groups:
        name = group.name
        if not group.members:
            rep.error(group.where, f"Sync group {name} has no virtual router(s). removing")
            continue
        members: list[str] = []
        wheres: list[Location] = []
        for member, where in zip(group.members, group.member_where, strict=True):
            if member not in instances:
                rep.error(
                    where,
                    f"Virtual router {member} specified in sync group {name} doesn't exist"
                    " - ignoring",
                )
            elif member in owner:
                rep.error(
                    where,
                    f"Virtual router {member} cannot exist in more than one sync group;"
                    f" ignoring {name}",
                )
            else:
                owner[member] = name
                members.append(member)
                wheres.append(where)
        if not members:
            rep.error(
                group.where,
                f"Sync group {name}, no matching virtual router found in group declaration"
                " - removing",
            )
            continue
        if len(members) == 1:
            rep.error(
                group.where,
                f"Sync group {name} has only 1 virtual router(s) - this probably isn't what"
                " you want",
            )
        owners = {
            instances[m].state is State.MASTER and instances[m].priority == 255 for m in members
        }
        if len(owners) > 1:
            rep.error(
                group.where,
                f"Sync group {name} has some member(s) as address owner and some not as"
                " address owner. This won't work.",
            )
        group = dataclasses.replace(group, members=tuple(members), member_where=tuple(wheres))
        out.append(_group_tracks(rep, group, scripts, any(
            instances[m].priority == 255 for m in members)))
    return tuple(out)


def _group_tracks(rep: Reporter, group: SyncGroup, scripts: dict[str, int],
                  has_owner: bool) -> SyncGroup:
    """A group's track_script of an unknown script is dropped, and with an address owner among
    its members its tracked objects lose their weights (keepalived's sync_group_tracking_init;
    the group's tracks are every member's)."""
    refs = []
    for ref in group.track_scripts:
        if ref.name not in scripts:
            rep.error(ref.where, f"({group.name}) track script {ref.name} not found, ignoring...")
        elif has_owner and (scripts[ref.name] if ref.weight is None else ref.weight):
            rep.warning(ref.where, f"({group.name}) Cannot have weighted track script"
                        f" '{ref.name}' with member having priority 255 - clearing weight")
            refs.append(dataclasses.replace(ref, weight=0))
        else:
            refs.append(ref)
    interfaces = []
    for ti in group.track_interfaces:
        if has_owner and ti.weight:
            rep.warning(ti.where, f"({group.name}) Cannot have weighted track interface"
                        f" '{ti.name}' with member having priority 255 - clearing weight")
            ti = dataclasses.replace(ti, weight=0)
        interfaces.append(ti)
    return dataclasses.replace(group, track_scripts=tuple(refs),
                               track_interfaces=tuple(interfaces))


def complete(config: Config) -> tuple[Config, tuple[Problem, ...]]:
    """Return ``config`` with keepalived's derived values applied, and the problems found."""
    rep = Reporter()
    scripts = []
    seen_scripts: set[str] = set()
    for scr in config.scripts:
        if scr.name in seen_scripts:
            rep.error(scr.where, f"vrrp_script {scr.name} is defined twice - ignoring this one")
        elif scr.script is not None:
            seen_scripts.add(scr.name)
            scripts.append(scr)

    instances: list[VrrpInstance] = []
    seen: set[str] = set()
    for inst in config.instances:
        if inst.name in seen:
            # keepalived 2.4.3 (vrrp_parser.c, vrrp_handler): a name already in its list is
            # "already defined" and the later block is skipped whole, so the first copy runs.
            rep.error(inst.where, f"vrrp instance {inst.name} already defined")
            continue
        seen.add(inst.name)
        done = complete_instance(rep, inst, seen_scripts)
        if done is not None:
            instances.append(done)
    if config.instances and not instances:
        # Dropping bad instances is only "running the rest" while there is a rest.
        rep.add(
            None,
            Severity.FATAL,
            "no vrrp_instance is left to run (every one was ignored above) - cannot run",
        )

    slots: dict[tuple[str | None, int | None, int], VrrpInstance] = {}
    for inst in instances:
        if inst.virtual_router_id is None:
            continue
        slot = (inst.interface, inst.virtual_router_id, inst.family)
        if slot in slots:
            other = slots[slot]
            rep.add(
                inst.where,
                Severity.FATAL,
                f"VRID {inst.virtual_router_id} is used by"
                f" {other.name} ({other.where}) and {inst.name} on interface"
                f" {inst.interface} for IPv{inst.family} - each must be unique",
            )
        else:
            slots[slot] = inst

    groups = _sync_groups(rep, config.sync_groups, {i.name: i for i in instances},
                          {s.name: s.weight for s in scripts})
    weights = {s.name: s.weight for s in scripts}
    unweighted = {m for g in groups if not g.sync_group_tracking_weight for m in g.members}
    instances = [_fixed_priority(rep, inst, inst.name in unweighted, weights) for inst in instances]
    completed = dataclasses.replace(
        config, instances=tuple(instances), scripts=tuple(scripts), sync_groups=groups
    )
    return completed, tuple(rep.problems)


def _fixed_priority(
    rep: Reporter, inst: VrrpInstance, in_sync_group: bool, weights: dict[str, int]
) -> VrrpInstance:
    """No floating priority for an address owner or a sync group member (keepalived).

    Unless the group has sync_group_tracking_weight, a member's weighted track_interface
    becomes unweighted (down means FAULT) and a weighted track_script is dropped; an address
    owner (priority 255) drops both.
    """
    owner = inst.priority == 255
    if not (in_sync_group or owner):
        return inst
    why = "SYNC group" if in_sync_group else "address owner"
    interfaces = []
    for track in inst.track_interfaces:
        if not track.weight:
            interfaces.append(track)
            continue
        if in_sync_group:
            rep.error(
                track.where,
                f"({inst.name}) ignoring {track.name} tracked interface weight due to {why}",
            )
            interfaces.append(dataclasses.replace(track, weight=0, reverse=False))
        else:
            rep.error(
                track.where, f"({inst.name}) ignoring {track.name} tracked interface due to {why}"
            )
    scripts = []
    for ref in inst.track_scripts:
        weight = weights.get(ref.name, 0) if ref.weight is None else ref.weight
        if weight:
            rep.error(
                ref.where,
                f"({inst.name}) ignoring tracked script {ref.name} with weights due to"
                f" {why if in_sync_group else 'address_owner'}",
            )
        else:
            scripts.append(ref)
    if interfaces == list(inst.track_interfaces) and len(scripts) == len(inst.track_scripts):
        return inst
    return dataclasses.replace(
        inst, track_interfaces=tuple(interfaces), track_scripts=tuple(scripts)
    )
