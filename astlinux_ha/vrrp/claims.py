"""Split brain seen through ARP: which claims on our VIPs count, decided without sockets.

While MASTER, an instance watches ARP for its IPv4 VIPs (net/conflict.py reads the frames).
A claim from a foreign MAC is not yet a split brain: during a normal handover the old master
still answers for the VIP until it hears our first advert, a few milliseconds. So a claim is
confirmed only if we are still MASTER of the same mastership one grace period later (one
advert interval, at least 50 ms), and each MAC is reported once per mastership.

:class:`ClaimTracker` holds that bookkeeping. Its methods take what happened (became master,
left master, the watch opened, a claim seen, a grace period over) and return what to do as
values (:data:`ClaimAction`); the instance opens and closes the watchers and arms the timers.
Each mastership is a *tenure* (a number): watchers and timers carry the tenure they were made
for, and anything from an ended one is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from .model import IPAddress

# A grace period shorter than this would confirm a claim the old master makes before its
# kernel has even delivered our advert (v3 intervals go down to 10 ms).
MIN_GRACE = 0.05


@dataclass(frozen=True, slots=True)
class OpenWatch:
    """Open the ARP watch for mastership ``tenure`` once this step's VIPs are set and
    announced (binding a packet socket blocks the loop; see instance.py)."""

    tenure: int


@dataclass(frozen=True, slots=True)
class CloseWatch:
    """End the watch: cancel the probe and close the watchers, ``later`` on the netlink chain
    after the VIP work this step queued (closing one blocks the loop too), else at once."""

    later: bool


@dataclass(frozen=True, slots=True)
class ArmProbe:
    """At ``at``, ask once "who has VIP?" from ``source``: a master that does not hear us
    answers from its MAC even when it sends no gratuitous ARP."""

    at: float
    source: ipaddress.IPv4Address


@dataclass(frozen=True, slots=True)
class ArmConfirm:
    """At ``at``, call :meth:`ClaimTracker.confirm` with these values."""

    vip: ipaddress.IPv4Address
    mac: str
    tenure: int
    at: float


@dataclass(frozen=True, slots=True)
class SplitBrain:
    """A confirmed claim: count ``split_brain`` and log ``message`` as a warning."""

    vip: ipaddress.IPv4Address
    mac: str
    message: str


ClaimAction = OpenWatch | CloseWatch | ArmProbe | ArmConfirm | SplitBrain


def grace(adver_us: int) -> float:
    """How long a foreign claim must outlive our takeover to count, in seconds.

    A normal handover settles within one advert interval: the old master hears our first
    advert and drops the VIP in milliseconds. A claim that outlives it is a master that does
    not hear us.
    """
    return max(adver_us / 1_000_000, MIN_GRACE)


def watched(vips: Iterable[tuple[str, IPAddress]]) -> dict[str, list[ipaddress.IPv4Address]]:
    """The IPv4 VIPs to watch per interface, from (ifname, address) pairs, in config order.
    IPv6 VIPs have no ARP; the VRRP core's advert checks are all they get."""
    by_if: dict[str, list[ipaddress.IPv4Address]] = {}
    for ifname, address in vips:
        if isinstance(address, ipaddress.IPv4Address):
            by_if.setdefault(ifname, []).append(address)
    return by_if


class ClaimTracker:
    """One instance's claim bookkeeping: the current tenure, the MACs awaiting confirmation
    and those already reported in this mastership."""

    __slots__ = ("name", "grace", "tenure", "_open", "_macs")

    def __init__(self, name: str, adver_us: int) -> None:
        self.name = name
        self.grace = grace(adver_us)
        self.tenure = 0
        self._open = False
        # The MACs claiming our VIPs in this mastership: False while the claim waits its
        # grace period, True once reported (one dict: two empty sets were 432 B an instance).
        self._macs: dict[str, bool] = {}

    def became_master(self) -> list[ClaimAction]:
        """A mastership begins: end any watch still open, then open a new one."""
        actions = self.left_master(later=True)
        self.tenure += 1
        return [*actions, OpenWatch(self.tenure)]

    def left_master(self, *, later: bool) -> list[ClaimAction]:
        """The mastership ended (or the instance goes away): forget its claims; close the
        watch if one was opened (``later``: see :class:`CloseWatch`)."""
        self._macs.clear()
        self.tenure += 1
        if not self._open:
            return []
        self._open = False
        return [CloseWatch(later)]

    def may_open(self, tenure: int, master: bool) -> bool:
        """Whether the watch queued for ``tenure`` should still open: that mastership has
        not ended before the loop got to it."""
        return tenure == self.tenure and master

    def opened(self, watchers: int, source: IPAddress, now: float) -> list[ClaimAction]:
        """``watchers`` ARP watchers started (some interfaces may have refused). The probe
        goes out a grace period later, from the advert source if it is a real IPv4 address
        (an unspecified one would make the peer's kernel answer nobody)."""
        if not watchers:
            return []
        self._open = True
        if isinstance(source, ipaddress.IPv4Address) and int(source):
            return [ArmProbe(now + self.grace, source)]
        return []

    def claim(self, vip: ipaddress.IPv4Address, mac: str, tenure: int,
              now: float) -> list[ClaimAction]:
        """A frame from ``mac`` claims ``vip``, seen by a watcher of ``tenure``: confirm it a
        grace period from now, unless this MAC is already pending or reported."""
        if tenure != self.tenure:
            return []  # a watcher of an ended mastership, not closed yet
        if mac in self._macs:
            return []
        self._macs[mac] = False
        return [ArmConfirm(vip, mac, tenure, now + self.grace)]

    def confirm(self, vip: ipaddress.IPv4Address, mac: str, tenure: int,
                master: bool) -> list[ClaimAction]:
        """The grace period of a claim is over: a split brain if we are still MASTER of the
        same mastership; if we handed over meanwhile, it was the other side of a normal
        election."""
        if tenure != self.tenure or not master:
            return []
        self._macs[mac] = True
        message = (f"({self.name}) split brain: {vip} is also held by {mac}, a master that "
                   "does not hear our adverts (is VRRP blocked between them?)")
        return [SplitBrain(vip, mac, message)]
