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


def parse_vip(rep: Reporter, line: Line) -> VirtualAddress | None:
    """One VIP line; None when the address itself is bad (the line is dropped)."""
    words = line.words
    head = _address_and_prefix(rep, line, words[0], "virtual address")
    if head is None:
        return None
    addr, prefix = head
    where = line.where
    fields: dict[str, object] = {}
    i = 1
    while i < len(words):
        opt = words[i]
        value = words[i + 1] if i + 1 < len(words) else None
        if opt in _VIP_FLAGS:
            fields[_VIP_FLAGS[opt]] = True
            i += 1
            continue
        if opt not in ("dev", "scope", "brd", "broadcast", "label", "peer", "preferred_lft"):
            rep.error(where, f"unknown option '{opt}' for virtual address {words[0]} - ignoring")
            i += 1
            continue
        if value is None:
            rep.error(where, f"no {opt} value given for virtual address {words[0]}")
            break
        i += 2
        if opt == "dev":
            if len(value) >= IFNAMSIZ:
                rep.error(
                    where, f"dev '{value}' invalid - interface names have at most 15 characters"
                )
            else:
                fields["device"] = value
        elif opt == "scope":
            if value in SCOPES:
                fields["scope"] = value
            else:
                allowed = "|".join(sorted(SCOPES))
                rep.error(
                    where, f"scope '{value}' invalid for {words[0]} - must be one of {allowed}"
                )
        elif opt in ("brd", "broadcast"):
            brd = _broadcast(rep, line, addr, prefix, value)
            if brd is not None:
                fields["broadcast"] = brd
        elif opt == "label":
            if len(value) >= IFNAMSIZ:
                rep.error(where, f"label '{value}' invalid - labels have at most 15 characters")
            else:
                fields["label"] = value
        elif opt == "peer":
            peer = parse_address(rep, where, "peer", value, addr.version)
            if peer is not None:
                fields["peer"] = peer
        else:
            if value == "forever":
                fields["preferred_lft"] = FOREVER
            else:
                lft = parse_int(rep, where, "preferred_lft", value, 0, FOREVER)
                if lft is not None:
                    fields["preferred_lft"] = lft
    if addr.version == 6:
        for key in ("scope", "label"):
            if key in fields:
                rep.error(where, f"cannot specify {key} for IPv6 addresses ({words[0]}) - ignoring")
                del fields[key]
    if "peer" in fields and "broadcast" in fields:
        rep.error(where, "cannot specify broadcast and peer addresses - ignoring broadcast")
        del fields["broadcast"]
    return VirtualAddress(addr, prefix, where, **fields)  # type: ignore[arg-type]


def _broadcast(
    rep: Reporter, line: Line, addr: IPAddress, prefix: int, value: str
) -> ipaddress.IPv4Address | None:
    """``brd IP|+|-``: ``+`` sets the host bits, ``-`` clears them (iproute2's meaning)."""
    if addr.version == 6:
        rep.error(line.where, f"cannot assign a broadcast address to IPv6 address {addr}")
        return None
    net = ipaddress.IPv4Network((addr, prefix), strict=False)
    if value == "+":
        return net.broadcast_address
    if value == "-":
        return net.network_address
    brd = parse_address(rep, line.where, "brd", value, 4)
    return brd if isinstance(brd, ipaddress.IPv4Address) else None


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
        got = fields.get(key)
        if isinstance(got, ipaddress.IPv4Address | ipaddress.IPv6Address) and (
            got.version != dest.version
        ):
            rep.error(
                where, f"route {key} {got} is not of the destination's family - ignoring route"
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
    addr = parse_address(rep, line.where, "unicast_peer", words[0])
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
