"""The lab a rehearsal needs, read from the two configs themselves.

Every interface either config names (an instance's ``interface``, a VIP's ``dev``, a
``track_interface``) becomes a LAN of its own: a bridge on the lab's switch, the same name on
both boxes cabled to it (``eth0`` is the lab's ``br0``). Each box gets on each of them the
address its config says it has (``unicast_src_ip`` / ``mcast_src_ip``), else the one the other
box's ``unicast_peer`` expects, else a free one in the VIP's network; a client box on every LAN
that carries VIPs pings them. Nothing here touches the lab: :func:`plan` is pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from astlinux_ha.config import model as cfg
from astlinux_ha.paircheck import match

MASTER, BACKUP = "master", "backup"
IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class InstancePair:
    """One VRRP router as the two configs describe it (matched as pair-check matches)."""

    name: str
    master: cfg.VrrpInstance
    backup: cfg.VrrpInstance

    @property
    def vips(self) -> tuple[str, ...]:
        """The master's VIPs (what the client pings and the monitor watches)."""
        return tuple(str(v.address) for v in self.master.virtual_ipaddresses)

    @property
    def advert_int(self) -> float:
        """The slower side's interval: what the deadlines are made of."""
        return max(self.master.advert_int, self.backup.advert_int)

    def side(self, box: str) -> cfg.VrrpInstance:
        """The instance as ``box``'s config has it."""
        return self.master if box == MASTER else self.backup


@dataclass
class Segment:
    """One LAN: a bridge, and each box's addresses (CIDR) on its interface there."""

    ifname: str
    bridge: str
    addresses: dict[str, list[str]] = field(default_factory=dict)
    client: str | None = None
    vips: list[str] = field(default_factory=list)

    def port(self, box: str) -> str:
        """The switch port of ``box``'s interface on this LAN (eth0 keeps the lab's own)."""
        return f"p{box}" if self.bridge == "br0" else f"p{box}{self.bridge[2:]}"


@dataclass
class Plan:
    """Everything :mod:`lab.rehearse` builds and runs."""

    pairs: list[InstancePair]
    segments: dict[str, Segment]
    unmatched: list[str]

    def uses(self, pair: InstancePair) -> set[str]:
        """The interfaces whose cable pull concerns ``pair`` (on the master's side)."""
        return instance_interfaces(pair.master)

    def source(self, box: str, inst: cfg.VrrpInstance) -> str | None:
        """The address ``inst`` sends from on ``box``: its configured one, else the box's
        first address of the instance's family on its interface."""
        configured = inst.unicast_src_ip or inst.mcast_src_ip
        if configured is not None:
            return str(configured)
        seg = self.segments.get(inst.interface or "")
        for cidr in seg.addresses.get(box, []) if seg else []:
            if ipaddress.ip_interface(cidr).version == inst.family:
                return cidr.split("/")[0]
        return None


def instance_interfaces(inst: cfg.VrrpInstance) -> set[str]:
    """Interfaces ``inst`` depends on: its own, its VIPs' devices, its tracked ones."""
    names = {inst.interface} if inst.interface else set()
    names |= {v.device for v in inst.virtual_ipaddresses if v.device}
    names |= {t.name for t in inst.track_interfaces}
    return names


def plan(master: cfg.Config, backup: cfg.Config) -> Plan:
    """The lab for these two configs (master's first)."""
    pairs = [InstancePair(x.name if x.name == y.name else f"{x.name}/{y.name}", x, y)
             for x, y in match(master, backup)]
    matched = {id(p.master) for p in pairs} | {id(p.backup) for p in pairs}
    unmatched = [i.name for i in (*master.instances, *backup.instances) if id(i) not in matched]
    names: list[str] = []
    for inst in (*master.instances, *backup.instances):
        for name in sorted(instance_interfaces(inst)):
            if name not in names:
                names.append(name)
    segments: dict[str, Segment] = {}
    next_bridge = 1
    for name in names:
        if name == "eth0":
            bridge = "br0"
        else:
            bridge, next_bridge = f"br{next_bridge}", next_bridge + 1
        segments[name] = Segment(name, bridge, {MASTER: [], BACKUP: []})
    _assign(pairs, segments, master, backup)
    return Plan(pairs, segments, unmatched)


def _assign(pairs: list[InstancePair], segments: dict[str, Segment], master: cfg.Config,
            backup: cfg.Config) -> None:
    taken: set[IPAddr] = set()
    for inst in (*master.instances, *backup.instances):
        taken |= {v.address for v in inst.virtual_ipaddresses}
        taken |= {p.address for p in inst.unicast_peers}
        taken |= {a for a in (inst.unicast_src_ip, inst.mcast_src_ip) if a is not None}

    def add(box: str, ifname: str | None, addr: IPAddr, inst: cfg.VrrpInstance) -> None:
        seg = segments.get(ifname or "")
        if seg is None:
            return
        cidr = f"{addr}/{_prefix(addr, inst)}"
        if cidr not in seg.addresses[box]:
            seg.addresses[box].append(cidr)

    # What each config says a box has: its own source, then what the other box expects.
    for pair in pairs:
        for box, other in ((MASTER, BACKUP), (BACKUP, MASTER)):
            mine, theirs = pair.side(box), pair.side(other)
            own = mine.unicast_src_ip or mine.mcast_src_ip
            if own is not None:
                add(box, mine.interface, own, mine)
                continue
            their_own = theirs.unicast_src_ip or theirs.mcast_src_ip
            expected = [p.address for p in theirs.unicast_peers
                        if p.address != their_own and p.address.version == mine.family]
            if expected:
                add(box, mine.interface, expected[0], mine)
    # Every LAN with an instance or a VIP: both boxes need an address of each family there
    # (a VIP's ping is answered over the box's own connected route to the client).
    families: dict[str, set[int]] = {name: set() for name in segments}
    nets: dict[tuple[str, int], IPNet] = {}
    for pair in pairs:
        for inst in (pair.master, pair.backup):
            if inst.interface in families:
                families[inst.interface].add(inst.family)
            for v in inst.virtual_ipaddresses:
                dev = v.device or inst.interface
                if dev in families:
                    families[dev].add(v.family)
                    nets.setdefault((dev, v.family), _network(v.address, v.prefixlen))
    for name, seg in segments.items():
        for family in sorted(families[name]):
            present = [ipaddress.ip_interface(c) for cs in seg.addresses.values() for c in cs]
            known = [a.network for a in present if a.version == family]
            net = known[0] if known else nets.get((name, family)) or _default_net(name, family)
            nets[(name, family)] = net
            for box in (MASTER, BACKUP):
                if not any(ipaddress.ip_interface(c).version == family
                           for c in seg.addresses[box]):
                    host = _free(net, taken, (1, 2, 3))
                    taken.add(host)
                    seg.addresses[box].append(f"{host}/{net.prefixlen}")
            for cidr in (*seg.addresses[MASTER], *seg.addresses[BACKUP]):
                taken.add(ipaddress.ip_interface(cidr).ip)
    # One client per LAN with VIPs, in the boxes' network there (it reaches each VIP by a host
    # route, so a VIP outside that network is pinged too).
    count = 0
    for pair in pairs:
        for v in pair.master.virtual_ipaddresses:
            seg = segments.get(v.device or pair.master.interface or "")
            if seg is None:
                continue
            if seg.client is None:
                count += 1
                seg.client = "client" if count == 1 else f"client{count}"
                seg.addresses[seg.client] = []
            if str(v.address) not in seg.vips:
                seg.vips.append(str(v.address))
            have = {ipaddress.ip_interface(c).version for c in seg.addresses[seg.client]}
            if v.family not in have and (seg.ifname, v.family) in nets:
                host = _free(nets[(seg.ifname, v.family)], taken, (10, 200))
                taken.add(host)
                net = nets[(seg.ifname, v.family)]
                seg.addresses[seg.client].append(f"{host}/{net.prefixlen}")


def _prefix(addr: IPAddr, inst: cfg.VrrpInstance) -> int:
    # A VIP with a prefix that covers the address tells the LAN's size; else a usual one.
    for v in inst.virtual_ipaddresses:
        if v.family == addr.version and addr in _network(v.address, v.prefixlen) and (
                v.prefixlen < (32 if v.family == 4 else 128)):
            return v.prefixlen
    return 24 if addr.version == 4 else 64


def _network(addr: IPAddr, prefixlen: int) -> IPNet:
    full = 32 if addr.version == 4 else 128
    if prefixlen >= full:  # a /32 VIP: its /24 (or /64) is the LAN's best guess
        prefixlen = 24 if addr.version == 4 else 64
    return ipaddress.ip_network(f"{addr}/{prefixlen}", strict=False)


def _default_net(ifname: str, family: int) -> IPNet:
    index = sum(ifname.encode()) % 200
    text = f"10.199.{index}.0/24" if family == 4 else f"fd99:{index:x}::/64"
    return ipaddress.ip_network(text)


def _free(net: IPNet, taken: set[IPAddr], preferred: Iterable[int]) -> IPAddr:
    for offset in (*preferred, *range(1, 250)):
        host = net.network_address + offset
        if host in net and host not in taken and host != net.broadcast_address:
            return host
    raise ValueError(f"no free address left in {net}")
