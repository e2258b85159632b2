"""The address-bearing lines: ``virtual_ipaddress``, ``virtual_routes`` and ``unicast_peer``.

Grammar and messages follow keepalived's vrrp_ipaddress.c / vrrp_iproute.c: the family is
taken from the address, the default prefix is /32 or /128, an unknown option is reported and
ignored, and an address that does not parse drops the line.
"""

from __future__ import annotations

import ipaddress

from .model import IPAddress, UnicastPeer, VirtualAddress, VirtualRoute
from .parser import Statement as Line
from .values import Reporter, parse_address, parse_int

IFNAMSIZ = 16
SCOPES = frozenset({"global", "universe", "site", "link", "host", "nowhere"})
ROUTE_TYPES = frozenset(
    {"unicast", "blackhole", "unreachable", "prohibit", "throw", "local", "broadcast", "multicast"}
)
FOREVER = 0xFFFFFFFF
_DEFAULTS: dict[int, ipaddress.IPv4Network | ipaddress.IPv6Network] = {
    4: ipaddress.IPv4Network("0.0.0.0/0"),
    6: ipaddress.IPv6Network("::/0"),
}
_VIP_VALUED = frozenset({"dev", "scope", "brd", "broadcast", "label", "peer", "preferred_lft"})
_VIP_FLAGS = {
    "home": "home",
    "-nodad": "nodad",
    "mngtmpaddr": "mngtmpaddr",
    "noprefixroute": "noprefixroute",
    "autojoin": "autojoin",
    "no_track": "no_track",
    "use_vmac": "use_vmac",
}


def _address_and_prefix(
    rep: Reporter, line: Line, text: str, what: str
) -> tuple[IPAddress, int] | None:
    """``IP[/len]``: the address and prefix length (default /32 or /128)."""
    addr_text, _, length = text.partition("/")
    addr = parse_address(rep, line.where, what, addr_text)
    if addr is None:
        return None
    maxlen = addr.max_prefixlen
    if not length:
        return addr, maxlen
    prefix = parse_int(rep, line.where, f"{what} prefix length", length, 0, maxlen)
    return addr, maxlen if prefix is None else prefix


class _DropVip(Exception):
    """A VIP line keepalived drops entirely (the problem is already reported)."""


def parse_vip(rep: Reporter, line: Line) -> VirtualAddress | None:
    """One VIP line; None when keepalived would drop it (a bad address, dev, brd or label).

    Follows vrrp_ipaddress.c: an unknown option or a bad scope/peer/preferred_lft is reported
    and ignored; a missing value, a repeated dev, a bad broadcast or too long a label drop
    the whole address.
    """
    head = _address_and_prefix(rep, line, line.words[0], "virtual address")
    if head is None:
        return None
    try:
        return _vip_options(rep, line, *head)
    except _DropVip:
        return None


def _vip_options(rep: Reporter, line: Line, addr: IPAddress, prefix: int) -> VirtualAddress:
    words = line.words
    where = line.where
    name = words[0]
    fields: dict[str, object] = {}
    brd: str | None = None
    i = 1
    while i < len(words):
        opt = words[i]
        if opt in _VIP_FLAGS:
            fields[_VIP_FLAGS[opt]] = True
            i += 1
            continue
        if opt not in _VIP_VALUED:
            rep.error(where, f"Unknown configuration entry '{opt}' for ip address - ignoring")
            i += 1
            continue
        if i + 1 >= len(words):
            rep.error(where, f"No {opt} parameter specified for {name} - ignoring the address")
            raise _DropVip
        value = words[i + 1]
        i += 2
        if opt == "dev":
            if "device" in fields:
                rep.error(where, f"Cannot specify ipaddress device more than once for {name}")
                raise _DropVip
            if len(value) >= IFNAMSIZ:
                rep.error(
                    where, f"dev '{value}' invalid - interface names have at most 15 characters"
                )
                raise _DropVip
            fields["device"] = value
        elif opt == "scope":
            if value in SCOPES or (value.isdigit() and int(value) <= 255):
                fields["scope"] = value
            else:
                allowed = "|".join(sorted(SCOPES))
                rep.error(
                    where,
                    f"Invalid scope '{value}' specified for {name} - must be one of {allowed}"
                    " or 0-255; ignoring",
                )
        elif opt in ("brd", "broadcast"):
            if addr.version == 6:
                rep.error(
                    where,
                    f"cannot assign a broadcast address to IPv6 address {name} - skipping VIP",
                )
                raise _DropVip
            brd = value
        elif opt == "label":
            if len(value) >= IFNAMSIZ:
                rep.error(
                    where,
                    f"Address label {value} is longer than maximum length {IFNAMSIZ - 1}"
                    " - removing address",
                )
                raise _DropVip
            fields["label"] = value
        elif opt == "peer":
            prefix = _peer(rep, line, addr, prefix, value, fields)
        else:
            lft = (
                FOREVER
                if value == "forever"
                else parse_int(rep, where, "preferred_lft", value, 0, FOREVER)
            )
            if lft is not None:
                fields["preferred_lft"] = lft
    if brd is not None:
        _broadcast(rep, line, addr, prefix, brd, fields)
    if addr.version == 6:
        for key in ("scope", "label"):
            if key in fields:
                rep.error(
                    where, f"Cannot specify {key} for IPv6 addresses ({name}) - ignoring {key}"
                )
                del fields[key]
    return VirtualAddress(addr, prefix, where, **fields)  # type: ignore[arg-type]


def _peer(
    rep: Reporter, line: Line, addr: IPAddress, prefix: int, value: str, fields: dict[str, object]
) -> int:
    """``peer IP[/len]``: the peer's prefix length becomes the address's (iproute2's rule)."""
    where = line.where
    if "peer" in fields:
        rep.error(where, f"Peer {value} - another peer has already been specified")
        return prefix
    head = _address_and_prefix(rep, line, value, "peer")
    if head is None:
        return prefix
    peer, peer_prefix = head
    if peer.version != addr.version:
        rep.error(where, f"Peer address {value} does not match address family")
        return prefix
    if prefix != addr.max_prefixlen:
        rep.error(where, "Cannot specify address prefix when specifying peer address - ignoring")
    fields["peer"] = peer
    return peer_prefix


def _broadcast(
    rep: Reporter, line: Line, addr: IPAddress, prefix: int, value: str, fields: dict[str, object]
) -> None:
    """``brd IP|+|-``: ``+`` sets the host bits, ``-`` clears them (of the peer if given)."""
    where = line.where
    if value not in ("+", "-"):
        try:
            fields["broadcast"] = ipaddress.IPv4Address(value)
        except ValueError:
            rep.error(where, f"VRRP is trying to assign invalid broadcast {value}. skipping VIP...")
            raise _DropVip from None
    if "peer" in fields:
        rep.error(where, "Cannot specify broadcast and peer addresses - ignoring broadcast address")
        fields.pop("broadcast", None)
        return
    if value in ("+", "-"):
        if prefix > 30:
            rep.error(where, f"Address prefix length {prefix} too long for broadcast")
            return
        net = ipaddress.IPv4Network((addr, prefix), strict=False)
        fields["broadcast"] = net.broadcast_address if value == "+" else net.network_address


def parse_route(rep: Reporter, line: Line) -> VirtualRoute | None:
    """One ``virtual_routes`` line; None when the destination is missing or bad."""
    words = list(line.words)
    where = line.where
    fields: dict[str, object] = {}
    if words[0] in ROUTE_TYPES:
        fields["route_type"] = words.pop(0)
    dest: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    dest_text = ""
    i = 0
    while i < len(words):
        opt = words[i]
        if opt in ("onlink", "no_track"):
            fields[opt] = True
            i += 1
            continue
        value = words[i + 1] if i + 1 < len(words) else None
        keyed = opt in (
            "src",
            "to",
            "via",
            "gw",
            "dev",
            "oif",
            "metric",
            "preference",
            "priority",
            "table",
            "scope",
            "protocol",
            "proto",
        )
        if not keyed:
            if dest is None:
                dest_text = opt
                dest = _route_dest(rep, line, opt)
                if dest is None:
                    return None
            else:
                rep.error(where, f"unknown route option '{opt}' - ignoring")
            i += 1
            continue
        if value is None:
            rep.error(where, f"route option '{opt}' needs a value")
            break
        i += 2
        if opt == "to":
            dest_text = value
            dest = _route_dest(rep, line, value)
            if dest is None:
                return None
        elif opt in ("src", "via", "gw"):
            got = parse_address(rep, where, opt, value)
            if got is not None:
                fields["source" if opt == "src" else "gateway"] = got
        elif opt in ("dev", "oif"):
            fields["device"] = value
        elif opt in ("metric", "preference", "priority"):
            metric = parse_int(rep, where, opt, value, 0, 0xFFFFFFFF)
            if metric is not None:
                fields["metric"] = metric
        elif opt == "table":
            fields["table"] = int(value) if value.isdigit() else value
        elif opt == "scope":
            if value in SCOPES:
                fields["scope"] = value
            else:
                rep.error(
                    where,
                    f"route scope '{value}' invalid - must be one of " + "|".join(sorted(SCOPES)),
                )
        else:
            fields["protocol"] = value
    if dest is None:
        rep.error(where, f"virtual route '{line.text}' has no destination - ignoring")
        return None
    if not fields.get("no_track") and "device" not in fields:
        # keepalived tracks a route through its interface; without one it cannot.
        rep.error(
            where,
            f"Warning - cannot track route {dest_text} with no interface specified, not tracking",
        )
        fields["no_track"] = True
    if dest_text == "default" and dest.prefixlen == 0:
        # A bare ``default`` takes its family from the gateway or source, as iproute2's does.
        hint = fields.get("gateway") or fields.get("source")
        dest = _DEFAULTS[6] if isinstance(hint, ipaddress.IPv6Address) else _DEFAULTS[4]
    for key in ("gateway", "source"):
        address = fields.get(key)
        if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address) and (
            address.version != dest.version
        ):
            rep.error(
                where, f"route {key} {address} is not of the destination's family - ignoring route"
            )
            return None
    return VirtualRoute(dest, where, **fields)  # type: ignore[arg-type]


def _route_dest(
    rep: Reporter, line: Line, text: str
) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A route destination: ``default[4|6]`` or ``IP[/len]`` (host bits are an error)."""
    if text in ("default", "default4"):
        return _DEFAULTS[4]  # ``default`` may become ::/0 once the gateway is known
    if text == "default6":
        return _DEFAULTS[6]
    head = _address_and_prefix(rep, line, text, "route destination")
    if head is None:
        return None
    try:
        return ipaddress.ip_network(head, strict=True)
    except ValueError:
        rep.error(line.where, f"route destination '{text}' has host bits set - ignoring route")
        return None


def parse_peer(rep: Reporter, line: Line) -> UnicastPeer | None:
    """``ADDR [min_ttl N] [max_ttl N]`` inside ``unicast_peer { }``."""
    words = line.words
    addr = parse_address(rep, line.where, "unicast_peer", words[0], lenient=True)
    if addr is None:
        return None
    ttl: dict[str, int] = {}
    i = 1
    while i < len(words):
        opt = words[i]
        if opt in ("min_ttl", "max_ttl") and i + 1 < len(words):
            got = parse_int(rep, line.where, opt, words[i + 1], 0, 255)
            if got is not None:
                ttl[opt] = got
            i += 2
        else:
            rep.error(line.where, f"unknown unicast_peer option '{opt}' - ignoring")
            i += 1
    if "min_ttl" in ttl and "max_ttl" in ttl and ttl["min_ttl"] > ttl["max_ttl"]:
        rep.error(line.where, f"unicast_peer {addr}: min_ttl is above max_ttl - ignoring both")
        ttl.clear()
    return UnicastPeer(addr, line.where, ttl.get("min_ttl"), ttl.get("max_ttl"))
