"""``astlinux-ha pair-check MASTER.conf BACKUP.conf``: two boxes' configs checked together.

Most VRRP outages start as a mismatch between the two files: a different VRID, peers that do
not point at each other, a password on one side only, different advert intervals, equal
priorities, VIP sets that differ. Each config alone passes ``-t``; only read side by side do
they show the split brain (or the failover that never happens) they will cause. This module
is pure: two loaded configs and the lines each keyword came from in, findings out.

Instances are matched by VRID and family, then by name, then by a shared VIP, so a VRID that
differs is still found as "the same instance, different VRID". The first file is the box meant
to be master. Every finding names both files' FILE:LINE.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from astlinux_ha.config import EXIT_ERRORS, EXIT_FATAL, EXIT_OK, check
from astlinux_ha.config import model as cfg
from astlinux_ha.config.lexer import lex_file
from astlinux_ha.config.parser import Statement, parse_lines
from astlinux_ha.problems import Location


class Level(enum.Enum):
    """An error makes the pair fail over wrongly; a warning is legal but worth a look."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One mismatch between the two configs, with the line on each side it is about."""

    level: Level
    message: str
    here: Location
    there: Location

    def render(self) -> str:
        """``A:LINE: B:LINE: message``, ending in `` (warning)`` as ``-t`` lines do."""
        tag = " (warning)" if self.level is Level.WARNING else ""
        return f"{self.here}: {self.there}: {self.message}{tag}"


class Lines:
    """Where each keyword of a config stands: per instance, per sync group and global."""

    def __init__(self, path: str, config_id: str | None = None) -> None:
        statements, _ = parse_lines(lex_file(path, config_id).lines)
        self._blocks: dict[tuple[str, str], Statement] = {}
        self._globals: dict[str, Location] = {}
        for st in statements:
            if st.keyword in ("vrrp_instance", "vrrp_sync_group") and st.args:
                self._blocks.setdefault((st.keyword, st.args[0]), st)
            elif st.keyword == "global_defs":
                for item in st.block or ():
                    self._globals.setdefault(item.keyword, item.where)

    def instance(self, inst: cfg.VrrpInstance, *keywords: str) -> Location:
        """The line of the first of ``keywords`` set in ``inst``, else its own line."""
        return self._in(("vrrp_instance", inst.name), keywords) or inst.where

    def group(self, group: cfg.SyncGroup, *keywords: str) -> Location:
        """The line of the first of ``keywords`` in sync group ``group``, else its own line."""
        return self._in(("vrrp_sync_group", group.name), keywords) or group.where

    def global_(self, keyword: str, default: Location) -> Location:
        """The line of global keyword ``keyword``, else ``default``."""
        return self._globals.get(keyword, default)

    def _in(self, key: tuple[str, str], keywords: Sequence[str]) -> Location | None:
        block = self._blocks.get(key)
        if block is None:
            return None
        for keyword in keywords:
            for st in block.block or ():
                if st.keyword == keyword:
                    return st.where
        return None


@dataclass(frozen=True, slots=True)
class Side:
    """One box's config and its line map."""

    config: cfg.Config
    lines: Lines


def match(a: cfg.Config, b: cfg.Config) -> list[tuple[cfg.VrrpInstance, cfg.VrrpInstance]]:
    """Pairs of instances that are the same VRRP router on the two boxes.

    By VRID and family first (what the wire matches on), then by name, then by a shared VIP;
    an instance is used in one pair at most.
    """
    pairs: list[tuple[cfg.VrrpInstance, cfg.VrrpInstance]] = []
    left, right = list(a.instances), list(b.instances)

    def take(same) -> None:
        for x in list(left):
            y = next((y for y in right if same(x, y)), None)
            if y is not None:
                pairs.append((x, y))
                left.remove(x)
                right.remove(y)

    take(lambda x, y: x.virtual_router_id is not None
         and (x.virtual_router_id, x.family) == (y.virtual_router_id, y.family)
         and _interface_kin(x, y))
    take(lambda x, y: x.name == y.name)
    take(lambda x, y: bool(_vip_keys(x) & _vip_keys(y)))
    return pairs


def _interface_kin(x: cfg.VrrpInstance, y: cfg.VrrpInstance) -> bool:
    # The same VRID on two different LANs is two routers: tell them apart by a shared VIP
    # network, or by a source address on the other's VIP network, where either is known.
    nets_x = {v.network for v in x.virtual_ipaddresses}
    nets_y = {v.network for v in y.virtual_ipaddresses}
    if not nets_x or not nets_y:
        return True
    return bool(nets_x & nets_y) or bool(_vip_keys(x) & _vip_keys(y))


def _vip_keys(inst: cfg.VrrpInstance) -> set[object]:
    return {v.address for v in inst.virtual_ipaddresses}


def check_pair(a: Side, b: Side) -> list[Finding]:
    """Every finding for the pair, the first side being the intended master."""
    findings: list[Finding] = []
    pairs = match(a.config, b.config)
    matched_a = {x.name for x, _ in pairs}
    matched_b = {y.name for _, y in pairs}
    for x, y in pairs:
        findings += _instance_findings(a, b, x, y)
    for x in a.config.instances:
        if x.name not in matched_a:
            findings.append(Finding(Level.ERROR, _no_counterpart(x, b.config), x.where,
                                    _file(b.config)))
    for y in b.config.instances:
        if y.name not in matched_b:
            findings.append(Finding(Level.ERROR, _no_counterpart(y, a.config), _file(a.config),
                                    y.where))
    findings += _group_findings(a, b, pairs)
    return findings


def _no_counterpart(inst: cfg.VrrpInstance, other: cfg.Config) -> str:
    return (f"({inst.name}) has no counterpart in {other.path} (no instance with its VRID, "
            "its name or one of its VIPs)")


def _file(config: cfg.Config) -> Location:
    """Where a finding about a whole file points: its first line."""
    return Location(config.path, 1)


def _instance_findings(a: Side, b: Side, x: cfg.VrrpInstance,
                       y: cfg.VrrpInstance) -> Iterator[Finding]:
    name = x.name if x.name == y.name else f"{x.name}/{y.name}"

    def at(level: Level, message: str, *keywords: str) -> Finding:
        return Finding(level, f"({name}) {message}", a.lines.instance(x, *keywords),
                       b.lines.instance(y, *keywords))

    if x.virtual_router_id != y.virtual_router_id:
        yield at(Level.ERROR, f"virtual_router_id {x.virtual_router_id} here, "
                 f"{y.virtual_router_id} there: the boxes never hear each other and both "
                 "become master", "virtual_router_id")
    if x.version != y.version:
        yield at(Level.ERROR, f"VRRP version {x.version} here, {y.version} there: each "
                 "drops the other's adverts", "version")
    if x.advert_int != y.advert_int:
        yield at(Level.ERROR, f"advert_int {x.advert_int:g} here, {y.advert_int:g} there: "
                 + ("v2 drops adverts with another interval" if x.version == 2 else
                    "the master-down timers disagree"), "advert_int")
    yield from _auth(x, y, at)
    yield from _transport(a, b, x, y, at)
    yield from _roles(x, y, at)
    yield from _vips(a, b, x, y, name)
    yield from _tracking(x, y, at)


def _auth(x: cfg.VrrpInstance, y: cfg.VrrpInstance, at) -> Iterator[Finding]:
    if x.version != 2 and y.version != 2:
        return
    ax, ay = x.authentication, y.authentication
    kind_x = ax.auth_type.name if ax else "none"
    kind_y = ay.auth_type.name if ay else "none"
    if kind_x != kind_y:
        yield at(Level.ERROR, f"authentication {kind_x} here, {kind_y} there: the adverts "
                 "are dropped", "authentication")
    elif ax and ay and ax.password.encode()[:8] != ay.password.encode()[:8]:
        yield at(Level.ERROR, "auth_pass differs (keepalived compares its first 8 "
                 "characters): the adverts are dropped", "authentication")


def _source(inst: cfg.VrrpInstance) -> object | None:
    return inst.unicast_src_ip or inst.mcast_src_ip


def _transport(a: Side, b: Side, x: cfg.VrrpInstance, y: cfg.VrrpInstance,
               at) -> Iterator[Finding]:
    if x.unicast != y.unicast:
        mode = ("unicast", "multicast") if x.unicast else ("multicast", "unicast")
        yield at(Level.ERROR, f"{mode[0]} here, {mode[1]} there: the unicast side never "
                 "hears the other", "unicast_peer")
        return
    if not x.unicast:
        gx = _group(a.config, x)
        gy = _group(b.config, y)
        if gx != gy:
            yield Finding(Level.ERROR, f"({x.name}) multicast group {gx} here, {gy} there",
                          a.lines.global_("vrrp_mcast_group4", x.where),
                          b.lines.global_("vrrp_mcast_group4", y.where))
        return
    for src_side, src, peer_side, inst in ((a, x, b, y), (b, y, a, x)):
        address = src.unicast_src_ip
        listed = {p.address for p in inst.unicast_peers}
        if address is not None and address not in listed:
            yield Finding(
                Level.ERROR,
                f"({x.name}) the other box's unicast_peer "
                f"({', '.join(str(p) for p in sorted(listed, key=str))}) does not list "
                f"unicast_src_ip {address}: no advert is ever sent to it",
                *_ordered(src_side is a, src_side.lines.instance(src, "unicast_src_ip"),
                          peer_side.lines.instance(inst, "unicast_peer")),
            )
    check_x = x.check_unicast_src or a.config.global_defs.vrrp_check_unicast_src
    check_y = y.check_unicast_src or b.config.global_defs.vrrp_check_unicast_src
    if check_x != check_y:
        yield Finding(Level.WARNING, f"({x.name}) vrrp_check_unicast_src "
                      f"{'set' if check_x else 'not set'} here, "
                      f"{'set' if check_y else 'not set'} there",
                      a.lines.global_("vrrp_check_unicast_src", x.where),
                      b.lines.global_("vrrp_check_unicast_src", y.where))


def _ordered(first_is_a: bool, mine: Location,
             theirs: Location) -> tuple[Location, Location]:
    """(first file's line, second file's line) from a side's own line and the other's."""
    return (mine, theirs) if first_is_a else (theirs, mine)


def _group(config: cfg.Config, inst: cfg.VrrpInstance) -> object:
    g = config.global_defs
    return g.vrrp_mcast_group4 if inst.family == 4 else g.vrrp_mcast_group6


def _roles(x: cfg.VrrpInstance, y: cfg.VrrpInstance, at) -> Iterator[Finding]:
    if x.priority == y.priority:
        level = Level.ERROR if x.state is y.state is cfg.State.MASTER else Level.WARNING
        yield at(level, f"both have priority {x.priority}: the higher primary address "
                 "decides who is master", "priority")
    elif x.priority < y.priority:
        yield at(Level.ERROR, f"the master's priority {x.priority} is below the backup's "
                 f"{y.priority}: the backup takes over", "priority")
    if y.state is cfg.State.MASTER and x.state is not cfg.State.MASTER:
        yield at(Level.WARNING, "state MASTER is on the backup's side", "state")
    for inst, side in ((x, "here"), (y, "there")):
        # Asked for, and cleared while loading (keepalived's rule): the model says False.
        if "nopreempt" in inst.explicit and inst.state is cfg.State.MASTER:
            yield at(Level.ERROR, f"nopreempt with state MASTER {side}: keepalived clears "
                     "nopreempt (it needs state BACKUP on both boxes)", "nopreempt", "state")


def _vip_set(inst: cfg.VrrpInstance) -> dict[tuple, cfg.VirtualAddress]:
    return {(v.address, v.prefixlen, v.device or inst.interface, v.label): v
            for v in inst.virtual_ipaddresses}


def _describe(v: cfg.VirtualAddress) -> str:
    dev = f" dev {v.device}" if v.device else ""
    label = f" label {v.label}" if v.label else ""
    return f"{v.address}/{v.prefixlen}{dev}{label}"


def _vips(a: Side, b: Side, x: cfg.VrrpInstance, y: cfg.VrrpInstance,
          name: str) -> Iterator[Finding]:
    vx, vy = _vip_set(x), _vip_set(y)
    where_x = a.lines.instance(x, "virtual_ipaddress")
    where_y = b.lines.instance(y, "virtual_ipaddress")
    for key in vx.keys() - vy.keys():
        v = vx[key]
        other = next((w for w in vy.values() if w.address == v.address), None)
        if other is not None:
            yield Finding(Level.ERROR, f"({name}) VIP {_describe(v)} here, {_describe(other)} "
                          "there", v.where, other.where)
        else:
            yield Finding(Level.ERROR, f"({name}) VIP {_describe(v)} only here: it is lost "
                          "on failover", v.where, where_y)
    for key in vy.keys() - vx.keys():
        v = vy[key]
        if not any(w.address == v.address for w in vx.values()):
            yield Finding(Level.ERROR, f"({name}) VIP {_describe(v)} only there", where_x,
                          v.where)


def _tracking(x: cfg.VrrpInstance, y: cfg.VrrpInstance, at) -> Iterator[Finding]:
    for what, keyword, names_x, names_y in (
        ("track_script", "track_script", {t.name for t in x.track_scripts},
         {t.name for t in y.track_scripts}),
        ("track_interface", "track_interface", {t.name for t in x.track_interfaces},
         {t.name for t in y.track_interfaces}),
    ):
        for only, side in ((names_x - names_y, "here"), (names_y - names_x, "there")):
            for item in sorted(only):
                yield at(Level.WARNING, f"{what} {item} only {side}", keyword)


def _group_findings(a: Side, b: Side, pairs) -> Iterator[Finding]:
    counterpart = {x.name: y.name for x, y in pairs}
    groups_b = {frozenset(g.members): g for g in b.config.sync_groups}
    seen: set[str] = set()
    for g in a.config.sync_groups:
        wanted = frozenset(counterpart.get(m, m) for m in g.members)
        other = groups_b.get(wanted)
        if other is not None:
            seen.add(other.name)
            continue
        near = next((h for h in b.config.sync_groups if h.name == g.name or
                     wanted & frozenset(h.members)), None)
        there = b.lines.group(near, "group") if near else _file(b.config)
        if near is not None:
            seen.add(near.name)
        members = " ".join(sorted(near.members)) if near else "none"
        yield Finding(Level.ERROR, f"sync group {g.name} holds {' '.join(sorted(g.members))} "
                      f"here, {members} there", a.lines.group(g, "group"), there)
    for h in b.config.sync_groups:
        if h.name not in seen:
            yield Finding(Level.ERROR, f"sync group {h.name} only there", _file(a.config),
                          b.lines.group(h, "group"))


def main(argv: Sequence[str], out: TextIO | None = None) -> int:
    """``pair-check MASTER.conf BACKUP.conf [-i ID_A [ID_B]]``; exits as ``-t`` does."""
    stream = sys.stdout if out is None else out
    err = sys.stderr if out is None else out
    if len(argv) != 2:
        print("usage: astlinux-ha pair-check MASTER.conf BACKUP.conf", file=err)
        return 2
    sides = []
    for path in argv:
        result = check(path)
        if not result.runnable or result.config is None:
            for problem in result.problems:
                print(problem.render(), file=err)
            print(f"astlinux-ha: {path}: configuration cannot run", file=err)
            return EXIT_FATAL
        sides.append(Side(result.config, Lines(path)))
    findings = check_pair(sides[0], sides[1])
    for finding in findings:
        print(finding.render(), file=stream)
    errors = sum(f.level is Level.ERROR for f in findings)
    if not findings:
        count = len(match(sides[0].config, sides[1].config))
        print(f"{argv[0]} and {argv[1]}: {count} instance(s) match, nothing to report",
              file=stream)
    return EXIT_ERRORS if errors else EXIT_OK
