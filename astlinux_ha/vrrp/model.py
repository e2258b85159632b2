"""The state machine's vocabulary: parameters, state, events in, actions out.

All of it is frozen data; :func:`astlinux_ha.vrrp.machine.step` is the only thing that turns
one into another. Times are float seconds on the daemon's monotonic clock (``now``).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from .packet import Advert
from .timing import OWNER_PRIORITY, advert_us
from .tracking import TrackKey, TrackSpec

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Role(enum.Enum):
    """An instance's VRRP state, named as keepalived logs and notifies it."""

    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"


class Timer(enum.Enum):
    """The per-instance timers the daemon runs for the machine (one deadline each)."""

    # Enum hashes a member by its name in Python code; timers key the machine's and the
    # runner's dicts, several lookups per advert. Members are singletons compared by identity,
    # so the identity hash is as good, and it is computed in C.
    __hash__ = object.__hash__

    MASTER_DOWN = "master-down"  # BACKUP: no advert from the master for this long
    ADVERT = "advert"  # MASTER: send the next advert
    GARP_DELAY = "garp-delay"  # MASTER: second GARP/NA burst (garp_master_delay)
    GARP_REFRESH = "garp-refresh"  # MASTER: periodic GARP/NA (garp_master_refresh)
    GARP_LOWER_PRIO = "garp-lower-prio"  # MASTER: delayed burst after a lower-priority advert


class Level(enum.Enum):
    """Log levels: DETAIL lines are what keepalived only logs with ``-D``."""

    INFO = "info"
    DETAIL = "detail"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Garp:
    """Gratuitous ARP / unsolicited NA timing: seconds; repeat counts are message counts.

    The config reads it (``vrrp_garp_*``, per instance and in global_defs) and the machine
    runs it. Unset, the burst after a lower-priority advert is off here; the config fills in
    keepalived's default for it (the global master burst, none in strict mode).
    """

    master_delay: float = 5.0
    master_repeat: int = 5
    master_refresh: float = 0.0
    master_refresh_repeat: int = 1
    # After a lower-priority advert while master.
    lower_prio_delay: float = 0.0
    lower_prio_repeat: int = 0
    interval: float = 0.0  # between ARPs of one burst (vrrp_garp_interval): the announcer's
    na_interval: float = 0.0  # between NAs of one burst (vrrp_gna_interval): the announcer's
    min_garp: bool = False  # vrrp_min_garp: one message on takeover, no second burst


@dataclass(frozen=True, slots=True)
class InstanceParams:
    """One ``vrrp_instance`` as the machine needs it (the daemon builds it from the config).

    ``priority`` is the configured (base) priority; ``init_state`` is ``state MASTER`` or
    ``BACKUP``; ``primary_address`` is the address our adverts come from (unicast_src_ip or
    the interface's primary), used for the equal-priority tie-break. ``tracks`` lists every
    tracked object, the instance's own interface included unless ``dont_track_primary``.
    """

    name: str
    vrid: int
    primary_address: IPAddress
    version: int = 2
    priority: int = 100
    advert_int: float = 1.0
    init_state: Role = Role.BACKUP
    nopreempt: bool = False
    preempt_delay: float = 0.0
    unicast_peers: tuple[IPAddress, ...] = ()
    vips: tuple[IPAddress, ...] = ()
    garp: Garp = field(default_factory=Garp)
    down_timer_adverts: int = 3
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    # vrrp_notify_priority_changes / notify_priority_changes: a MASTER_PRIORITY or
    # BACKUP_PRIORITY notify each time the effective priority moves.
    notify_priority_changes: bool = False
    tracks: tuple[TrackSpec, ...] = ()

    @property
    def family(self) -> int:
        """4 or 6, from the primary address."""
        return self.primary_address.version

    @property
    def owner(self) -> bool:
        """An address owner (priority 255): its priority never changes."""
        return self.priority == OWNER_PRIORITY

    @property
    def adver_us(self) -> int:
        """Our own advertisement interval in microseconds."""
        return advert_us(self.version, self.advert_int)


@dataclass(frozen=True, slots=True)
class InstanceState:
    """Where an instance is, plus what the rules need to remember.

    ``timers`` holds the deadlines the machine has armed; a TimerExpired for a timer not in
    it (cancelled, or stale) is ignored. ``tracks`` is each tracked object's last status
    (None: no result yet). ``faulted_by_group`` marks a FAULT forced by the sync group.
    """

    role: Role = Role.INIT
    priority: int = 0
    master_adver_us: int = 0
    tracks: Mapping[TrackKey, bool | None] = field(default_factory=dict)
    timers: Mapping[Timer, float] = field(default_factory=dict)
    master_address: IPAddress | None = None
    last_advert_from: IPAddress | None = None
    last_advert_at: float | None = None
    last_advert_priority: int | None = None
    preempt_until: float | None = None
    wants_master: bool = False
    faulted_by_group: bool = False
    split_brain_peer: IPAddress | None = None
    split_brain_seen: float | None = None
    since: float | None = None
    # Set while a master that lost a VIP or route waits its skew time to take over again
    # (what was deleted, for the transition's cause); cleared by any advert heard meanwhile.
    retake: str | None = None


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Start:
    """The daemon starts the instance. ``down``: tracked objects already known to be down
    (interfaces without carrier, ``init_fail`` scripts); scripts not listed have no result."""

    down: frozenset[TrackKey] = frozenset()


@dataclass(frozen=True, slots=True)
class AdvertReceived:
    """An advert that passed :func:`astlinux_ha.vrrp.receive.check`."""

    advert: Advert
    src: IPAddress


@dataclass(frozen=True, slots=True)
class TimerExpired:
    """A deadline the machine armed has passed."""

    timer: Timer


@dataclass(frozen=True, slots=True)
class InterfaceDown:
    """Carrier lost on an interface (only tracked interfaces matter)."""

    ifname: str


@dataclass(frozen=True, slots=True)
class InterfaceUp:
    """Carrier back on an interface."""

    ifname: str


@dataclass(frozen=True, slots=True)
class SourceAddress:
    """The configured advert source (unicast_src_ip / mcast_src_ip) was added to or removed
    from its interface: without it no advert can leave, so its loss is a FAULT."""

    address: IPAddress
    present: bool


@dataclass(frozen=True, slots=True)
class VirtualDeleted:
    """One of the master's own VIPs or virtual routes was deleted from under it (by hand,
    ``ip addr del``): as keepalived, the master steps down to BACKUP and takes over again one
    skew time later, setting everything again. ``what`` names it for the log, e.g.
    ``VIP 10.10.50.244`` or ``route 192.168.102.0/24``. The daemon sends it only for tracked
    items (no ``no_track``) it holds as master, never for its own removals."""

    what: str


@dataclass(frozen=True, slots=True)
class TrackResult:
    """A tracked script decided (after rise/fall): up or down."""

    name: str
    up: bool


@dataclass(frozen=True, slots=True)
class Shutdown:
    """SIGTERM: a master sends priority 0 and drops its VIPs; STOP is notified, unless the
    instance is going because a reload deleted it (``notify``: False; it reported DELETED)."""

    notify: bool = True


@dataclass(frozen=True, slots=True)
class Reload:
    """SIGHUP with the instance kept: pass the new params to ``step`` with this event."""


@dataclass(frozen=True, slots=True)
class SyncForce:
    """The sync group moves this member to ``role`` (sent by :mod:`.sync` only). ``quick``:
    to BACKUP because a member lost a VIP or route, so it comes back one skew time later
    with the member that lost it (keepalived's set_vrrp_backup does so for the whole group)."""

    role: Role
    cause: str
    quick: bool = False


@dataclass(frozen=True, slots=True)
class SyncRelease:
    """The sync group no longer holds this member in FAULT (sent by :mod:`.sync` only)."""


Event = (
    Start | AdvertReceived | TimerExpired | InterfaceDown | InterfaceUp | SourceAddress
    | TrackResult | VirtualDeleted | Shutdown | Reload | SyncForce | SyncRelease
)


# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class SendAdvert:
    """Send one advert with this priority (to the group, or to each unicast peer)."""

    priority: int


@dataclass(frozen=True, slots=True)
class AddVips:
    """Add the instance's VIPs and virtual routes."""


@dataclass(frozen=True, slots=True)
class RemoveVips:
    """Remove the VIPs and routes; ``force`` also removes ones we did not add (startup)."""

    force: bool = False


@dataclass(frozen=True, slots=True)
class SendGratuitous:
    """Send ``repeat`` gratuitous ARPs / unsolicited NAs for every VIP."""

    repeat: int


@dataclass(frozen=True, slots=True)
class RunNotify:
    """Run the notify scripts for ``state`` (MASTER, BACKUP, FAULT, STOP,
    MASTER_RX_LOWER_PRI): the type-specific one, then ``notify`` with the priority."""

    state: str
    priority: int


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """(Re)arm ``timer`` to fire at ``at`` (replaces any earlier deadline)."""

    timer: Timer
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Stop ``timer``."""

    timer: Timer


@dataclass(frozen=True, slots=True)
class Log:
    """A log line, worded as keepalived words it."""

    level: Level
    message: str


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change, for the transitions journal and status files."""

    from_role: Role
    to_role: Role
    cause: str


Action = (
    SendAdvert | AddVips | RemoveVips | SendGratuitous | RunNotify | ArmTimer | CancelTimer
    | Log | Transition
)
