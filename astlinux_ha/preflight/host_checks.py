"""Checks against this host rather than the text: do the named interfaces exist, and does
AstLinux's firewall let multicast VRRP in?

keepalived's ``-t`` reports an instance interface that does not exist. Here it is a warning
(exit code unchanged): the daemon copes with an interface that appears later (the instance
waits in FAULT), and a config checked on one box is often meant for another.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator

from astlinux_ha.config.model import Config
from astlinux_ha.problems import Location, Problem, Severity


def _exists(name: str) -> bool:
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def _named_interfaces(config: Config) -> Iterator[tuple[str, str, object, Location]]:
    """(interface, what names it, whose, where) for every interface the config refers to;
    ``what.format(whose)`` says it in words (only built for the interfaces reported)."""
    for inst in config.instances:
        if inst.interface is not None:
            yield inst.interface, "vrrp_instance {}", inst.name, inst.where
        for track in inst.track_interfaces:
            yield track.name, "track_interface of {}", inst.name, track.where
        for vip in (*inst.virtual_ipaddresses, *inst.virtual_ipaddresses_excluded):
            if vip.device is not None:
                yield vip.device, "ip address {}", vip.address, vip.where


def interface_problems(
    config: Config, exists: Callable[[str], bool] = _exists
) -> tuple[Problem, ...]:
    """A warning for each reference to an interface this host does not have."""
    # Each name asked once: a big config names the same few interfaces thousands of times,
    # and every lookup is a system call.
    known: dict[str, bool] = {}
    missing = []
    for name, what, whose, where in _named_interfaces(config):
        found = known.get(name)
        if found is None:
            found = known[name] = exists(name)
        if not found:
            missing.append(Problem(where, Severity.WARNING,
                                   f"interface {name} for {what.format(whose)} doesn't exist"))
    return tuple(missing)


# AstLinux's firewall: custom rules an admin adds by hand (the guide's "Firewall" section).
FIREWALL_RULES = "/mnt/kd/arno-iptables-firewall/custom-rules"
_RULES_MAX = 1 << 20
_ALLOW_CALL = re.compile(r"^\s*allow_ext_vrrp_mcast\s+\S")
_IPTABLES = re.compile(r"\biptables\b.*\s-p\s+(112|vrrp)\b.*\s-j\s+ACCEPT\b")
_DEST = re.compile(r"\s-d\s+(\S+)")


def _admits(rules: str, group: str) -> bool:
    """Whether ``rules`` let VRRP multicast to ``group`` in: a call of the guide's
    ``allow_ext_vrrp_mcast`` (its body sends to 224.0.0.18), or an iptables ACCEPT of
    protocol 112 to the group or to anywhere."""
    for raw in rules.splitlines():
        line = raw.split("#", 1)[0]
        if _ALLOW_CALL.match(line) and group == "224.0.0.18":
            return True
        # A line with a $variable is a template inside a function (the snippet's own body),
        # which admits nothing until it is called.
        if _IPTABLES.search(line) and "$" not in line:
            dest = _DEST.search(line)
            if dest is None or dest.group(1).split("/")[0] == group:
                return True
    return False


def _read_rules(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(_RULES_MAX).decode(errors="replace")
    except OSError:
        return None


def firewall_problems(
    config: Config,
    rules_path: str = FIREWALL_RULES,
    read: Callable[[str], str | None] = _read_rules,
) -> tuple[Problem, ...]:
    """A warning when an IPv4 instance uses multicast and AstLinux's firewall has no rule
    letting VRRP in: the boxes would not hear each other and both would hold the VIP.

    Only where the firewall's directory exists (an AstLinux box with arno-iptables-firewall);
    unicast needs no rule, connection tracking lets the peer's adverts in.
    """
    if not os.path.isdir(os.path.dirname(rules_path)):
        return ()
    multicast = [i for i in config.instances if not i.unicast_peers and i.family == 4]
    if not multicast:
        return ()
    group = str(config.global_defs.vrrp_mcast_group4)
    rules = read(rules_path)
    if rules is not None and _admits(rules, group):
        return ()
    inst = multicast[0]
    return (Problem(
        inst.where, Severity.WARNING,
        f"({inst.name}) uses multicast, but {rules_path} has no rule letting VRRP (IP protocol "
        f"112) to {group} in: the boxes will not hear each other and both will hold the VIP. "
        "Add the guide's allow_ext_vrrp_mcast snippet (etc/arno-iptables-firewall/"
        "custom-rules.vrrp) with your LAN, e.g. allow_ext_vrrp_mcast \"10.10.50.0/24\"",
    ),)


def nft_problems(config: Config,
                 find: Callable[[], str | None] | None = None) -> tuple[Problem, ...]:
    """A warning for each no_accept instance when nft is not installed: the daemon runs,
    but its master's VIPs answer as with accept. ``find`` locates nft (default
    :func:`astlinux_ha.net.nftables.nft_path`)."""
    # Only an instance without accept can refuse: the network stack (pyroute2 comes with
    # astlinux_ha.net, 130 ms) is imported just for such a config, so a plain -t skips it.
    if not any(i.accept is False for i in config.instances):
        return ()
    from astlinux_ha.net import nftables
    from astlinux_ha.runtime import accept

    refusing = [i for i in config.instances if accept.refuses(i)]
    if not refusing or (find or nftables.nft_path)() is not None:
        return ()
    return tuple(Problem(
        inst.where, Severity.WARNING,
        f"({inst.name}) no_accept needs nft (install nftables): without it the VIPs answer "
        "as with accept",
    ) for inst in refusing)
