"""From the config model to what the VRRP core, the network edge and the scripts take.

The core and the edge each have their own small parameter types, so neither depends on the
config model; this module is the one place that knows both sides. It also plans a whole
config's start: which scripts may run (from verdicts already taken), which track scripts and
sync groups form, which FIFOs open and what each new instance starts with down, from a
snapshot of the host's facts passed in as a value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from astlinux_ha.config import model as cfg
from astlinux_ha.net import KernelRoute, SocketKey, Vip, scope_id
from astlinux_ha.net.vmac import VmacSpec, virtual_mac
from astlinux_ha.net.vrrp_socket import Mode
from astlinux_ha.preflight import ScriptReport
from astlinux_ha.problems import Location
from astlinux_ha.scripts import runner, track
from astlinux_ha.scripts.notify import NotifyScripts
from astlinux_ha.vrrp import model as core
from astlinux_ha.vrrp.ah import IPPROTO_AH
from astlinux_ha.vrrp.packet import AuthType
from astlinux_ha.vrrp.receive import Peer, ReceiveParams
from astlinux_ha.vrrp.tracking import TrackKey, TrackKind, TrackSpec

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

UNSPECIFIED4 = ipaddress.IPv4Address("0.0.0.0")
UNSPECIFIED6 = ipaddress.IPv6Address("::")

_ROUTE_TABLES = {"default": 253, "main": 254, "local": 255}


def family_of(inst: cfg.VrrpInstance) -> int:
    """4 or 6: the family of the instance's VIPs (or of its source address when it has none)."""
    for vip in inst.virtual_ipaddresses:
        return vip.address.version
    for addr in (inst.unicast_src_ip, inst.mcast_src_ip):
        if addr is not None:
            return addr.version
    for peer in inst.unicast_peers:
        return peer.address.version
    return 4


def configured_source(inst: cfg.VrrpInstance) -> IPAddress | None:
    """The advert source the config names, if any (unicast_src_ip, else mcast_src_ip)."""
    return inst.unicast_src_ip or inst.mcast_src_ip


def vips(inst: cfg.VrrpInstance, spec: VmacSpec | None = None) -> tuple[Vip, ...]:
    """The instance's virtual_ipaddress lines as the address manager takes them (on its
    macvlan ``spec`` with use_vmac)."""
    return tuple(_vip(inst, v, spec) for v in inst.virtual_ipaddresses)


def excluded_vips(inst: cfg.VrrpInstance, spec: VmacSpec | None = None) -> tuple[Vip, ...]:
    """virtual_ipaddress_excluded: set and removed with the VIPs, never advertised."""
    return tuple(_vip(inst, v, spec) for v in inst.virtual_ipaddresses_excluded)


def vmac(inst: cfg.VrrpInstance,
         others: Iterable[cfg.VrrpInstance] = ()) -> VmacSpec | None:
    """use_vmac: the macvlan the instance's VIPs live on, with the RFC's virtual MAC for its
    family; None without use_vmac or without an interface to put it on.

    Named as keepalived 2.2.7 names them (seen in the lab): the given name, else the first
    of vrrp.VRID, vrrp1.VRID, vrrp2.VRID... (IPv6: vrrp.VRID, vrrp6.VRID, vrrp1.VRID...) that
    no configured name and no instance earlier in ``others`` (the config's) takes: two
    instances of one VRID on two links must not share one macvlan."""
    if inst.use_vmac is None or not inst.interface:
        return None
    vrid = inst.virtual_router_id or 0
    family = family_of(inst)
    name = inst.use_vmac or _default_vmac_name(inst, list(others))
    return VmacSpec(ifname=name, base=inst.interface, mac=virtual_mac(vrid, family),
                    family=family, xmit_base=inst.vmac_xmit_base)


def _default_vmac_name(inst: cfg.VrrpInstance, others: list[cfg.VrrpInstance]) -> str:
    taken = {o.use_vmac for o in others if o.use_vmac}
    for o in [*others, inst]:
        if o.use_vmac != "" or not o.interface:
            continue
        vrid = o.virtual_router_id or 0
        # keepalived's order of tries: an IPv6 one takes vrrp6 second.
        nums = [6, 1, 2, 3, 4, 5, *range(7, 100)] if family_of(o) == 6 else range(1, 100)
        name = next(n for n in (f"vrrp.{vrid}", *(f"vrrp{i}.{vrid}" for i in nums))
                    if n not in taken)
        if o is inst or o == inst:
            return name
        taken.add(name)
    raise AssertionError("unreachable: inst is the last one tried")


def _vip(inst: cfg.VrrpInstance, v: cfg.VirtualAddress, spec: VmacSpec | None) -> Vip:
    ifname = v.device or inst.interface or ""
    if spec is not None and ifname == spec.base:
        # On the macvlan, as keepalived puts them (`dev eth0` too, its label kept as
        # written): it answers ARP/ND with the virtual MAC.
        ifname = spec.ifname
    return Vip(
        address=v.address,
        prefixlen=v.prefixlen,
        ifname=ifname,
        broadcast=v.broadcast,
        scope=scope_id(v.scope) if v.scope is not None else 0,
        label=v.label,
        # keepalived 2.2.7 adds every IPv6 VIP with nodad (seen in the lab: `ip addr` shows
        # "nodad" with or without -nodad in the config). A VIP must answer the moment it moves;
        # DAD would keep it tentative for a second, and fail it outright in a split brain.
        nodad=v.nodad or v.address.version == 6,
        noprefixroute=v.noprefixroute,
    )


def routes(inst: cfg.VrrpInstance) -> tuple[KernelRoute, ...]:
    """virtual_routes as the address manager takes them."""
    out = []
    for r in inst.virtual_routes:
        table = r.table
        if isinstance(table, str):
            table = _ROUTE_TABLES.get(table, None) if not table.isdigit() else int(table)
        out.append(
            KernelRoute(
                dst=r.destination,
                gateway=r.gateway,
                ifname=r.device,
                src=r.source,
                metric=r.metric,
                table=table,
                scope=scope_id(r.scope) if r.scope is not None else None,
                kind=r.route_type or "unicast",
                onlink=r.onlink,
            )
        )
    return tuple(out)


def socket_key(inst: cfg.VrrpInstance, source: IPAddress) -> SocketKey:
    """Which shared socket the instance sends and receives on (IP protocol 51 for AH)."""
    family = 2 if family_of(inst) == 4 else 10  # AF_INET / AF_INET6
    mode = Mode.UNICAST if inst.unicast_peers else Mode.MULTICAST
    ifname = inst.interface or ""
    auth = inst.authentication
    if family == 2 and auth is not None and auth.auth_type is AuthType.AH:
        return SocketKey(ifname, family, mode, source, IPPROTO_AH)
    return SocketKey(ifname, family, mode, source)


def vmac_sender(p: InstancePlan) -> str | None:
    """use_vmac: the macvlan, which adverts leave from with the virtual MAC as their source
    (the instance still receives on its interface's socket: see net/vmac.py); None without
    use_vmac or with vmac_xmit_base (adverts from the interface itself, as keepalived)."""
    spec = p.vmac
    return None if spec is None or spec.xmit_base else spec.ifname


def mcast_group(config: cfg.Config, inst: cfg.VrrpInstance) -> IPAddress:
    """The multicast group for the instance's family (vrrp_mcast_group4/6)."""
    g = config.global_defs
    return g.vrrp_mcast_group4 if family_of(inst) == 4 else g.vrrp_mcast_group6


def track_specs(config: cfg.Config, inst: cfg.VrrpInstance,
                usable_scripts: frozenset[str]) -> tuple[TrackSpec, ...]:
    """Everything the instance tracks: its own interface (unless dont_track_primary), its
    configured source address, each track_interface, the links of its VIPs elsewhere (unless
    no_track), and each track_script whose script passed the security check.

    A track_script refused by the security check is left out entirely, as keepalived
    removes it from every track list: the instance does not go to FAULT for it.
    """
    specs: list[TrackSpec] = []
    if inst.interface and not inst.dont_track_primary:
        specs.append(TrackSpec(TrackKind.INTERFACE, inst.interface))
    elif inst.interface is None and not inst.dont_track_primary:
        # No interface of its own (keepalived 2.4.3's unicast-only form): the links its VIPs
        # live on are what a pulled cable takes down.
        for dev in dict.fromkeys(v.device for v in inst.virtual_ipaddresses
                                 if v.device and not v.no_track):
            specs.append(TrackSpec(TrackKind.INTERFACE, dev))
    source = configured_source(inst)
    if source is not None:
        # A master whose source address is gone sends nothing: the backup takes over while
        # this box still holds the VIPs. FAULT drops them.
        specs.append(TrackSpec(TrackKind.ADDRESS, str(source)))
    for ti in inst.track_interfaces:
        if ti.name == inst.interface and not inst.dont_track_primary:
            specs[0] = TrackSpec(TrackKind.INTERFACE, ti.name, ti.weight, ti.reverse)
        else:
            specs.append(TrackSpec(TrackKind.INTERFACE, ti.name, ti.weight, ti.reverse))
    specs += _vip_link_specs(inst, {s.key for s in specs})
    specs += _script_specs(config, inst.track_scripts, usable_scripts)
    group = sync_group_of(config, inst.name)
    if group is not None:
        specs += _group_specs(config, group, usable_scripts, {s.key for s in specs})
    return tuple(specs)


def _vip_link_specs(inst: cfg.VrrpInstance, have: set[TrackKey]) -> list[TrackSpec]:
    """keepalived tracks the link of every VIP that lives elsewhere (``dev eth1`` in an eth0
    instance): with it down that address cannot be held, so the instance goes to FAULT and
    all its VIPs move. ``no_track`` opts out; a track_interface of that link keeps its weight.
    (Without an interface of its own the VIPs' links are the instance's: see track_specs.)"""
    if inst.interface is None:
        return []
    out = []
    for v in (*inst.virtual_ipaddresses, *inst.virtual_ipaddresses_excluded):
        key = (TrackKind.INTERFACE, v.device or "")
        if v.device and v.device != inst.interface and not v.no_track and key not in have:
            have.add(key)
            out.append(TrackSpec(TrackKind.INTERFACE, v.device))
    return out


def _script_specs(config: cfg.Config, refs: Iterable[cfg.TrackScriptRef],
                  usable_scripts: frozenset[str]) -> list[TrackSpec]:
    scripts = {s.name: s for s in config.scripts}
    out = []
    for ref in refs:
        script = scripts.get(ref.name)
        if script is None or ref.name not in usable_scripts:
            continue
        weight = ref.weight if ref.weight is not None else script.weight
        reverse = ref.reverse or (ref.weight is None and script.weight_reverse)
        out.append(TrackSpec(TrackKind.SCRIPT, ref.name, weight, reverse))
    return out


def sync_group_of(config: cfg.Config, name: str) -> cfg.SyncGroup | None:
    """The sync group instance ``name`` is a member of, if any."""
    return next((g for g in config.sync_groups if name in g.members), None)


def _group_specs(config: cfg.Config, group: cfg.SyncGroup, usable_scripts: frozenset[str],
                 have: set[TrackKey]) -> list[TrackSpec]:
    """A sync group's track_interface / track_script entries, as each member tracks them.

    keepalived (sync_group_tracking_init) adds the group's tracked objects to every member,
    weights and all (the config checks clear them when a member is an address owner): one
    down puts that member in FAULT, and the group rules take the others with it. What the
    member tracks itself already is left as it is.
    """
    specs = [TrackSpec(TrackKind.INTERFACE, ti.name, ti.weight, ti.reverse)
             for ti in group.track_interfaces]
    specs += _script_specs(config, group.track_scripts, usable_scripts)
    out = []
    for spec in specs:
        if spec.key not in have:
            have.add(spec.key)
            out.append(spec)
    return out


def _garp(config: cfg.Config, inst: cfg.VrrpInstance) -> core.Garp:
    """The instance's garp timing (the config reads the core's own type), with
    vrrp_min_garp applied: one message on takeover and no second burst."""
    g = inst.garp
    if g.min_garp or config.global_defs.garp.min_garp:
        return replace(g, master_delay=0.0, master_repeat=1, master_refresh=0.0,
                       master_refresh_repeat=1, lower_prio_delay=0.0, lower_prio_repeat=0)
    return g


@dataclass(frozen=True)
class InstancePlan:
    """Everything the daemon derives from one vrrp_instance, apart from run-time facts."""

    config: cfg.VrrpInstance
    vips: tuple[Vip, ...]
    excluded: tuple[Vip, ...]
    routes: tuple[KernelRoute, ...]
    tracks: tuple[TrackSpec, ...]
    family: int
    vmac: VmacSpec | None = None  # use_vmac's macvlan


def plan(config: cfg.Config, inst: cfg.VrrpInstance,
         usable_scripts: frozenset[str]) -> InstancePlan:
    """Derive the run-time pieces of ``inst`` that do not depend on the interface's state."""
    spec = vmac(inst, config.instances)
    return InstancePlan(
        config=inst,
        vips=vips(inst, spec),
        excluded=excluded_vips(inst, spec),
        routes=routes(inst),
        tracks=track_specs(config, inst, usable_scripts),
        family=family_of(inst),
        vmac=spec,
    )


def core_params(config: cfg.Config, p: InstancePlan, source: IPAddress) -> core.InstanceParams:
    """The state machine's parameters once the advert source address is known."""
    inst = p.config
    return core.InstanceParams(
        name=inst.name,
        vrid=inst.virtual_router_id or 0,
        primary_address=source,
        version=inst.version,
        priority=inst.priority,
        advert_int=inst.advert_int,
        init_state=core.Role.MASTER if inst.state is cfg.State.MASTER else core.Role.BACKUP,
        nopreempt=inst.nopreempt,
        preempt_delay=inst.preempt_delay,
        unicast_peers=tuple(peer.address for peer in inst.unicast_peers),
        vips=tuple(v.address for v in p.vips),
        garp=_garp(config, inst),
        down_timer_adverts=inst.down_timer_adverts,
        lower_prio_no_advert=inst.lower_prio_no_advert,
        higher_prio_send_advert=inst.higher_prio_send_advert,
        notify_priority_changes=inst.notify_priority_changes,
        tracks=p.tracks,
    )


def receive_params(config: cfg.Config, p: InstancePlan) -> ReceiveParams:
    """What the receive checks need to know about the instance."""
    inst = p.config
    auth = inst.authentication
    return ReceiveParams(
        name=inst.name,
        vrid=inst.virtual_router_id or 0,
        version=inst.version,
        family=p.family,
        advert_int=inst.advert_int,
        vips=tuple(v.address for v in p.vips),
        auth_type=auth.auth_type if auth else AuthType.NONE,
        auth_password=auth.password.encode()[:8] if auth else b"",
        unicast_peers=tuple(
            Peer(peer.address, peer.min_ttl or 0,
                 255 if peer.max_ttl is None else peer.max_ttl)
            for peer in inst.unicast_peers
        ),
        # As in core_params: the instance already holds the global default, and its own
        # 'off' must win over a global 'on' (keepalived's PARAMETER_UNSET).
        check_unicast_src=inst.check_unicast_src,
        checksum_as_v2=inst.v3_checksum_as_v2,
        skip_check_adv_addr=inst.skip_check_adv_addr,
        mcast_group=mcast_group(config, inst),
    )


# ------------------------------------------------------------ a whole config's start


@dataclass(frozen=True)
class ScriptPlan:
    """The verdicts on one config's scripts: what may run, taken anew at start and on every
    reload, so a script made unsafe since the last one stops running from that moment."""

    report: ScriptReport
    # Keyed by the config item's source location: it names the line the verdict was taken
    # on, and survives a model copied or rebuilt (an object's id() did not).
    commands: Mapping[Location, runner.RunnableScript]
    usable: frozenset[str]  # vrrp_script names whose script passed

    @classmethod
    def from_report(cls, config: cfg.Config, report: ScriptReport) -> ScriptPlan:
        """The runnable commands of ``report`` (check_scripts' verdicts on ``config``)."""
        commands: dict[Location, runner.RunnableScript] = {}
        for chk in report.checks:
            if chk.runnable and chk.argv is not None and chk.user is not None:
                assert chk.verdict is not None  # runnable says so
                cmd = runner.RunnableScript.from_verdict(chk.argv, chk.verdict, chk.user)
                if cmd is not None:
                    commands[chk.script.command.where] = cmd
        usable = frozenset(
            s.name for s in config.scripts
            if s.script is not None and s.script.where in commands
        )
        return cls(report, commands, usable)

    def command(self, item: cfg.ScriptCommand | None) -> runner.RunnableScript | None:
        """What runs for a configured script: None when absent or refused."""
        return self.commands.get(item.where) if item is not None else None

    def notify_scripts(self, n: cfg.Notifies) -> NotifyScripts:
        """An instance's or group's notify block with today's verdicts."""
        get = self.command
        return NotifyScripts(
            master=get(n.master), backup=get(n.backup), fault=get(n.fault), stop=get(n.stop),
            deleted=get(n.deleted), master_rx_lower_pri=get(n.master_rx_lower_pri),
            generic=get(n.generic), notify_deleted=n.deleted is not None or n.report_deleted,
        )


@dataclass(frozen=True)
class HostFacts:
    """What the host looks like at one moment: links up, addresses present (as strings)."""

    links_up: frozenset[str]
    addresses: frozenset[str]


@dataclass(frozen=True)
class FifoPlan:
    """A notify FIFO to open: its path, reader script and owner as configured."""

    path: str
    script: runner.RunnableScript | None
    user: str | None
    group: str | None
    where: Location


def fifos(config: cfg.Config, scripts: ScriptPlan) -> tuple[FifoPlan, ...]:
    """notify_fifo then vrrp_notify_fifo, each with its reader script if it passed."""
    g = config.global_defs
    return tuple(
        FifoPlan(fifo.path, scripts.command(script), fifo.user, fifo.group, fifo.where)
        for fifo, script in ((g.notify_fifo, g.notify_fifo_script),
                             (g.vrrp_notify_fifo, g.vrrp_notify_fifo_script))
        if fifo is not None
    )


def track_scripts(config: cfg.Config, scripts: ScriptPlan,
                  tracked: Iterable[TrackSpec]) -> tuple[track.TrackScriptSpec, ...]:
    """The vrrp_scripts to run, in config order: those that passed and that some running
    instance tracks (``tracked``: every running instance's tracks)."""
    wanted = {t.name for t in tracked if t.kind is TrackKind.SCRIPT}
    return tuple(
        track.TrackScriptSpec(scr.name, scripts.commands[scr.script.where], scr.interval,
                        scr.timeout, scr.rise, scr.fall, scr.init_fail)
        for scr in config.scripts
        if scr.name in scripts.usable and scr.name in wanted and scr.script is not None
    )


def groups(config: cfg.Config,
           running: Collection[str]) -> tuple[tuple[cfg.SyncGroup, tuple[str, ...]], ...]:
    """Each sync group with its running members, in config order; a group none of whose
    members runs is left out."""
    out = []
    for group in config.sync_groups:
        members = tuple(n for n in group.members if n in running)
        if members:
            out.append((group, members))
    return tuple(out)


def initial_down(config: cfg.Config, tracks: Iterable[TrackSpec],
                 running_scripts: Collection[str], facts: HostFacts) -> frozenset[TrackKey]:
    """What a starting instance counts as down: tracked links not up, tracked source
    addresses the box lacks, and each running track script with init_fail."""
    down: set[TrackKey] = set()
    for t in tracks:
        if t.kind is TrackKind.INTERFACE and t.name not in facts.links_up:
            down.add(t.key)
        elif t.kind is TrackKind.ADDRESS and t.name not in facts.addresses:
            down.add(t.key)
    down.update((TrackKind.SCRIPT, s.name) for s in config.scripts
                if s.init_fail and s.name in running_scripts)
    return frozenset(down)
