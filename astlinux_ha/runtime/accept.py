"""no_accept (and vrrp_strict, which implies it): which addresses a master drops.

RFC 5798's Accept_Mode: a master that does not own the addresses (priority below 255) does
not accept packets sent to them; they serve only for routing. keepalived 2.2.7 drops the
instance's VIPs and excluded VIPs, both directions, from the moment it enters MASTER (before
the addresses are set) until it leaves it (after they are removed); the instance shell does
the same at the machine's AddVips / RemoveVips, through the firewall edge.
"""

from __future__ import annotations

from collections.abc import Iterable

from astlinux_ha.config import model as cfg
from astlinux_ha.net import Vip
from astlinux_ha.net.nftables import Drop
from astlinux_ha.vrrp.timing import OWNER_PRIORITY


def refuses(inst: cfg.VrrpInstance) -> bool:
    """Whether ``inst`` drops its VIPs' traffic while master: no_accept (or strict mode's
    default), unless it owns them (priority 255)."""
    return inst.accept is False and inst.priority != OWNER_PRIORITY


def drops(inst: cfg.VrrpInstance, vips: Iterable[Vip]) -> tuple[Drop, ...]:
    """What ``inst`` drops while master: ``vips`` (its VIPs and excluded VIPs), or nothing
    when it accepts (the default outside strict mode) or owns them (priority 255)."""
    if not refuses(inst):
        return ()
    return tuple(dict.fromkeys(Drop(v.address, v.ifname) for v in vips))
