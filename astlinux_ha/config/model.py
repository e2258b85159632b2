"""The typed configuration: what keepalived.conf says, with keepalived's defaults filled in.

Every item carries ``where`` (the file and line it came from) so that later checks, the daemon's
log lines and ``-t`` can point the admin at the exact line. Addresses are ``ipaddress``
objects, times are float seconds, and nothing here does I/O.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

from astlinux_ha.problems import NOWHERE, Location

# The core's own types where the config means the same thing: one type per concept.
from astlinux_ha.vrrp.model import Garp
from astlinux_ha.vrrp.packet import AuthType

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# keepalived's garp defaults as a config has them: the burst after a lower-priority advert is
# the master burst (vrrp_complete_init), where the core's own default is no burst.
KEEPALIVED_GARP = Garp(lower_prio_delay=5.0, lower_prio_repeat=5)


class State(enum.Enum):
    """The initial state an instance asks for (``state MASTER|BACKUP``)."""

    MASTER = "MASTER"
    BACKUP = "BACKUP"


@dataclass(frozen=True, slots=True)
class UserGroup:
    """A user and optional group as written (``:`` prefix on the group kept verbatim)."""

    user: str
    group: str | None
    where: Location


@dataclass(frozen=True, slots=True)
class ScriptCommand:
    """A script as configured: the command word of its line, after keepalived's first split.

    keepalived splits a script line with quotes and escapes (``"..."``/``'...'`` removed,
    ``\\x41`` decoded), takes the second word as the command, and splits that word once more
    when it runs the script: ``astlinux_ha.config.argv.split_command(command)`` gives argv.
    """

    command: str
    user: str | None
    group: str | None
    where: Location


@dataclass(frozen=True, slots=True)
class Fifo:
    """A notify FIFO path with the optional user/group that owns it."""

    path: str
    user: str | None
    group: str | None
    where: Location


@dataclass(frozen=True, slots=True)
class Notifies:
    """Notify scripts of an instance or sync group; None where not configured."""

    master: ScriptCommand | None = None
    backup: ScriptCommand | None = None
    fault: ScriptCommand | None = None
    stop: ScriptCommand | None = None
    deleted: ScriptCommand | None = None
    master_rx_lower_pri: ScriptCommand | None = None
    generic: ScriptCommand | None = None  # ``notify``: gets TYPE NAME STATE PRIORITY appended
    # ``notify_deleted`` given (with or without a script): DELETED is reported as itself.
    report_deleted: bool = False

    def scripts(self) -> tuple[ScriptCommand, ...]:
        """All configured scripts, for security checks."""
        found = (
            self.master,
            self.backup,
            self.fault,
            self.stop,
            self.deleted,
            self.master_rx_lower_pri,
            self.generic,
        )
        return tuple(s for s in found if s is not None)


@dataclass(frozen=True, slots=True)
class VirtualAddress:
    """One ``virtual_ipaddress`` line: ``<IP>[/len] [brd IP|+|-] [dev IF] [scope S] ...``."""

    address: IPAddress
    prefixlen: int
    where: Location
    broadcast: ipaddress.IPv4Address | None = None
    device: str | None = None
    scope: str | None = None  # None: the kernel's default (global)
    label: str | None = None
    peer: IPAddress | None = None
    home: bool = False
    nodad: bool = False
    mngtmpaddr: bool = False
    noprefixroute: bool = False
    autojoin: bool = False
    no_track: bool = False
    preferred_lft: int | None = None  # None: not set; 0xFFFFFFFF: forever
    use_vmac: bool = False

    @property
    def family(self) -> int:
        """4 or 6."""
        return self.address.version

    @property
    def network(self) -> IPNetwork:
        """The address's network (for routes and display)."""
        return ipaddress.ip_network((self.address, self.prefixlen), strict=False)


@dataclass(frozen=True, slots=True)
class VirtualRoute:
    """One ``virtual_routes`` line (``[src IP] [to] DST [via|gw GW] [dev IF] ...``)."""

    destination: IPNetwork
    where: Location
    gateway: IPAddress | None = None
    source: IPAddress | None = None
    device: str | None = None
    metric: int | None = None
    table: int | str | None = None
    scope: str | None = None
    protocol: str | None = None
    route_type: str | None = None  # blackhole, unreachable, prohibit...
    onlink: bool = False
    no_track: bool = False


@dataclass(frozen=True, slots=True)
class UnicastPeer:
    """A ``unicast_peer`` address with the optional per-peer TTL window."""

    address: IPAddress
    where: Location
    min_ttl: int | None = None
    max_ttl: int | None = None


@dataclass(frozen=True, slots=True)
class TrackInterface:
    """``track_interface`` entry; weight 0 means the instance goes to FAULT when it is down."""

    name: str
    where: Location
    weight: int = 0
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class TrackScriptRef:
    """``track_script`` entry; weight None means the vrrp_script's own weight applies."""

    name: str
    where: Location
    weight: int | None = None
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class VrrpScript:
    """A ``vrrp_script`` block. Times in seconds; timeout defaults to the interval."""

    name: str
    script: ScriptCommand | None
    where: Location
    interval: float = 1.0
    timeout: float | None = None  # None: same as interval (keepalived's default)
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: str | None = None
    group: str | None = None
    init_fail: bool = False

    @property
    def effective_timeout(self) -> float:
        """The timeout in seconds, the interval when none was configured."""
        return self.interval if self.timeout is None else self.timeout


@dataclass(frozen=True, slots=True)
class Authentication:
    """VRRPv2 ``authentication`` block; ``password`` is at most 8 bytes (keepalived truncates)."""

    auth_type: AuthType
    password: str
    where: Location


@dataclass(frozen=True, slots=True)
class VrrpInstance:
    """A ``vrrp_instance`` block with keepalived's defaults and derived values applied.

    ``explicit`` names the fields the config set itself; checks use it where keepalived's
    derivation depends on whether a value was given (e.g. ``state MASTER`` without a priority
    means priority 255).
    """

    name: str
    where: Location
    interface: str | None = None
    virtual_router_id: int | None = None
    state: State = State.BACKUP
    priority: int = 100
    advert_int: float = 1.0
    version: int = 2
    nopreempt: bool = False
    preempt_delay: float = 0.0
    virtual_ipaddresses: tuple[VirtualAddress, ...] = ()
    virtual_ipaddresses_excluded: tuple[VirtualAddress, ...] = ()
    virtual_routes: tuple[VirtualRoute, ...] = ()
    unicast_src_ip: IPAddress | None = None
    unicast_peers: tuple[UnicastPeer, ...] = ()
    unicast_ttl: int | None = None
    mcast_src_ip: IPAddress | None = None
    check_unicast_src: bool = False
    authentication: Authentication | None = None
    track_interfaces: tuple[TrackInterface, ...] = ()
    track_scripts: tuple[TrackScriptRef, ...] = ()
    dont_track_primary: bool = False
    # Accepted for keepalived configs; a configured unicast_src_ip/mcast_src_ip is tracked
    # (removed from the interface -> FAULT) whether or not it is set.
    track_src_ip: bool = False
    notifies: Notifies = field(default_factory=Notifies)
    notify_priority_changes: bool = False
    garp: Garp = KEEPALIVED_GARP
    down_timer_adverts: int = 3
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    skip_check_adv_addr: bool = False
    strict_mode: bool = False
    # None only before checks: completion resolves keepalived's default (on for the owner
    # or outside strict mode), so a loaded Config always has a bool here.
    accept: bool | None = None
    v3_checksum_as_v2: bool = False
    # use_vmac [NAME]: the VIPs live on a macvlan with the RFC's virtual MAC; None: not used,
    # "" : keepalived's default name (vrrp.VRID). vmac_xmit_base: adverts from the base.
    use_vmac: str | None = None
    vmac_xmit_base: bool = False
    explicit: frozenset[str] = frozenset()

    @property
    def family(self) -> int:
        """4 or 6: the VIPs' family, else unicast_src_ip's, else IPv4 (keepalived's default)."""
        if self.virtual_ipaddresses:
            return self.virtual_ipaddresses[0].family
        if self.unicast_src_ip is not None:
            return self.unicast_src_ip.version
        return 4

    @property
    def unicast(self) -> bool:
        """True when adverts go to unicast peers instead of the multicast group."""
        return bool(self.unicast_peers)

    def scripts(self) -> tuple[ScriptCommand, ...]:
        """Notify scripts of this instance, for security checks."""
        return self.notifies.scripts()


@dataclass(frozen=True, slots=True)
class SyncGroup:
    """A ``vrrp_sync_group``: member instances move between states together."""

    name: str
    where: Location
    members: tuple[str, ...] = ()
    member_where: tuple[Location, ...] = ()
    notifies: Notifies = field(default_factory=Notifies)
    track_interfaces: tuple[TrackInterface, ...] = ()
    track_scripts: tuple[TrackScriptRef, ...] = ()
    notify_priority_changes: bool = False
    sync_group_tracking_weight: bool = False


@dataclass(frozen=True, slots=True)
class GlobalDefs:
    """``global_defs`` (the VRRP-relevant part; LVS/SMTP/SNMP keys are accepted and ignored)."""

    where: Location = NOWHERE
    router_id: str | None = None
    enable_script_security: bool = False
    script_user: UserGroup | None = None
    vrrp_check_unicast_src: bool = False
    vrrp_mcast_group4: ipaddress.IPv4Address = ipaddress.IPv4Address("224.0.0.18")
    vrrp_mcast_group6: ipaddress.IPv6Address = ipaddress.IPv6Address("ff02::12")
    garp: Garp = KEEPALIVED_GARP
    vrrp_version: int = 2
    vrrp_skip_check_adv_addr: bool = False
    vrrp_strict: bool = False
    vrrp_lower_prio_no_advert: bool = False
    vrrp_higher_prio_send_advert: bool = False
    vrrp_down_timer_adverts: int = 3
    vrrp_startup_delay: float = 0.0
    log_unknown_vrids: bool = False
    umask: int | None = None  # None: keepalived's 0177 default
    notify_fifo: Fifo | None = None
    notify_fifo_script: ScriptCommand | None = None
    vrrp_notify_fifo: Fifo | None = None
    vrrp_notify_fifo_script: ScriptCommand | None = None
    vrrp_notify_priority_changes: bool = False
    v3_checksum_as_v2: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """A whole keepalived.conf (includes resolved): what the daemon runs.

    Build one with :func:`astlinux_ha.config.load` (raises on fatal problems) or
    :func:`astlinux_ha.config.check` (returns the config and every problem).
    """

    path: str
    global_defs: GlobalDefs = field(default_factory=GlobalDefs)
    instances: tuple[VrrpInstance, ...] = ()
    scripts: tuple[VrrpScript, ...] = ()
    sync_groups: tuple[SyncGroup, ...] = ()
    files: tuple[str, ...] = ()  # every file read, the main one first

    def instance(self, name: str) -> VrrpInstance:
        """The instance called ``name``; KeyError if there is none."""
        for inst in self.instances:
            if inst.name == name:
                return inst
        raise KeyError(name)

    def script(self, name: str) -> VrrpScript:
        """The vrrp_script called ``name``; KeyError if there is none."""
        for scr in self.scripts:
            if scr.name == name:
                return scr
        raise KeyError(name)

    def all_scripts(self) -> tuple[ScriptCommand, ...]:
        """Every script the config would run (notifies, FIFO scripts, track scripts)."""
        found: list[ScriptCommand] = []
        g = self.global_defs
        found += [s for s in (g.notify_fifo_script, g.vrrp_notify_fifo_script) if s is not None]
        for inst in self.instances:
            found += inst.scripts()
        for group in self.sync_groups:
            found += group.notifies.scripts()
        found += [s.script for s in self.scripts if s.script is not None]
        return tuple(found)
