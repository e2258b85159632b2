"""Runs one conformance case: a keepalived.conf, an event list, and the daemon's real wiring
(supervisor, instances, notifiers, the VRRP core) on a virtual clock with every edge replaced
by a recorder (see fakes.py). The result is one text per channel plus a status snapshot.

A case directory holds:

- ``keepalived.conf`` (and any other configs a ``reload`` event names);
- ``host`` (optional): the box before start, ``link IF up|down`` and ``address IF CIDR``
  lines (default: ``eth0`` up, no address);
- ``cmdline`` (optional): the daemon's extra options, e.g. ``-V`` or ``-i ID``;
- ``events``: one event per line, ``TIME EVENT ARGS...`` (``#`` starts a comment)::

      0      start
      1.5    advert 10.10.50.62 prio 100            # [vrid N] [version 2|3] [int N]
                                                      # [ips A,B] [dst D] [if eth0] [ttl N]
      4      link eth0 down | link eth0 up
      5      address eth1 add 10.0.0.1/24 | address eth1 del 10.0.0.1/24
      5      by-hand address eth0 10.10.50.244/32     # `ip addr del` of a VIP, say
      5      by-hand route 10.9.0.0/16 [via GW] [dev IF] [table N]   # `ip route del`
      6      track chk fail | track chk ok
      7      claim 10.10.50.244 02:00:00:00:00:99    # another box answers ARP for a VIP
      8      reload keepalived.conf.2                # the config replaced, then SIGHUP
      8      sighup | usr1 | usr2
      9      term
      20     end                                     # run the clock to here (default: term)

- one expected file per channel: ``wire`` (adverts sent, as a peer decodes them),
  ``netlink`` (VIPs, routes, GARP bursts, ARP probes), ``notify`` (notify FIFO lines),
  ``journal`` (transitions.jsonl), ``log`` (syslog lines), and ``status.json`` (the last
  status written, with the run-dependent fields blanked).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import logging
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fakes
from virtual_loop import VirtualLoop

from astlinux_ha.cli import parse_options
from astlinux_ha.net.links import RouteEvent
from astlinux_ha.options import load_for_run
from astlinux_ha.runtime.ports import Edges
from astlinux_ha.scripts.track import TrackStatus
from astlinux_ha.supervisor import Supervisor
from astlinux_ha.vrrp.packet import Advert

CHANNELS = ("wire", "netlink", "notify", "journal", "log")
# Fields of status.json that depend on the run, not on the behaviour.
VOLATILE = ("pid", "started", "updated", "since", "config")


@dataclass
class Event:
    """One line of ``events``."""

    at: float
    kind: str
    args: list[str]
    line: int


def read_events(path: Path) -> list[Event]:
    """The case's events, in time order as written (a time may not go backwards)."""
    events: list[Event] = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        words = shlex.split(raw, comments=True)
        if not words:
            continue
        at, kind, *args = words
        event = Event(float(at), kind, args, number)
        if events and event.at < events[-1].at:
            raise ValueError(f"{path}:{number}: time goes backwards")
        events.append(event)
    return events


class _Capture(logging.Handler):
    def __init__(self, ch: fakes.Channels, work: Path) -> None:
        super().__init__(logging.DEBUG)
        self.ch = ch
        self.work = str(work)  # the scratch copy's path, which differs in every run

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().replace(self.work, "CASE")
        self.ch.add("log", f"{record.levelname:<7} {text}")


def _advert(args: list[str], default_vrid: int, default_vips: list[str]) -> dict[str, Any]:
    src, *rest = args
    opts = dict(zip(rest[::2], rest[1::2], strict=True))
    return {
        "src": ipaddress.ip_address(src),
        "prio": int(opts.get("prio", 100)),
        "vrid": int(opts.get("vrid", default_vrid)),
        "version": int(opts.get("version", 2)),
        "int": int(opts.get("int", 1)),
        "ips": opts["ips"].split(",") if "ips" in opts else default_vips,
        "dst": opts.get("dst"),
        "if": opts.get("if", "eth0"),
        "ttl": int(opts.get("ttl", 255)),
    }


class Case:
    """One case directory, run in a scratch copy (reloads overwrite keepalived.conf)."""

    def __init__(self, directory: Path, scratch: Path) -> None:
        self.directory = directory
        self.work = scratch / directory.name
        shutil.copytree(directory, self.work)
        self.conf = self.work / "keepalived.conf"

    def run(self) -> dict[str, str]:
        """Every channel's text and the final status.json text."""
        loop = VirtualLoop()
        try:
            return loop.run_until_complete(self._run(loop))
        finally:
            loop.close()

    async def _run(self, loop: VirtualLoop) -> dict[str, str]:
        ch = fakes.Channels(loop.time)
        log = logging.getLogger(f"conformance.{self.directory.name}")
        log.setLevel(logging.DEBUG)
        log.propagate = False
        handler = _Capture(ch, self.work)
        log.addHandler(handler)
        cmdline = self.work / "cmdline"
        argv = shlex.split(cmdline.read_text()) if cmdline.exists() else []
        options = parse_options([*argv, "-f", str(self.conf), "-n", "-l"])
        result = load_for_run(options)
        assert result.config is not None, [p.render() for p in result.problems]
        self.config = result.config
        host = _host(self.work / "host")
        edges = Recorders(ch, host)
        try:
            sup = Supervisor(options, result.config, log,
                             tuple(p.render() for p in result.problems), edges.edges())
            await self._drive(loop, sup, edges)
        finally:
            log.removeHandler(handler)
        out = {c: "\n".join(ch.lines.get(c, [])) + "\n" for c in CHANNELS}
        status = edges.state.status or {}
        out["status.json"] = json.dumps(_stable(status), indent=2, sort_keys=True) + "\n"
        return out

    async def _drive(self, loop: VirtualLoop, sup: Any, edges: Recorders) -> None:
        served: asyncio.Task[None] | None = None
        vrid, vips = _first_instance(self.config)
        for ev in read_events(self.work / "events"):
            if ev.at > loop.time():
                # Events of one instant are delivered back to back, with no turn of the loop
                # between them: what the daemon does in between must not depend on how fast
                # a real thread (the config load) happens to be.
                await asyncio.sleep(ev.at - loop.time())
            match ev.kind:
                case "start":
                    served = loop.create_task(sup.serve())
                case "advert":
                    a = _advert(ev.args, vrid, vips)
                    dst = ipaddress.ip_address(a["dst"]) if a["dst"] else fakes.GROUPS[
                        a["src"].version]
                    adv = Advert(a["version"], a["vrid"], a["prio"], a["int"],
                                 tuple(ipaddress.ip_address(x) for x in a["ips"]))
                    edges.pool.on_packet(fakes.received(adv, a["src"], dst, a["if"], a["ttl"]))
                case "link":
                    edges.links.set_link(ev.args[0], ev.args[1] == "up")
                case "address":
                    ifname, verb, cidr = ev.args
                    iface = ipaddress.ip_interface(cidr)
                    edges.links.set_address(ifname, iface.ip, iface.network.prefixlen,
                                            verb == "add")
                case "by-hand":
                    _by_hand(edges.links, ev.args)
                case "track":
                    edges.tracks.live[ev.args[0]].on_result(
                        TrackStatus(ev.args[0], ev.args[1] == "ok"))
                case "claim":
                    edges.conflicts.claim(ipaddress.ip_address(ev.args[0]), ev.args[1])
                case "reload":
                    shutil.copyfile(self.work / ev.args[0], self.conf)
                    sup.request_reload()
                case "sighup":
                    sup.request_reload()
                case "usr1":
                    sup.dump_data()
                case "usr2":
                    sup.dump_stats()
                case "term":
                    sup.request_stop()
                    assert served is not None
                    await asyncio.wait_for(served, 30)
                    return
                case "end":
                    break
                case other:
                    raise ValueError(f"events:{ev.line}: unknown event {other!r}")
        if served is not None:
            sup.request_stop()
            await asyncio.wait_for(served, 30)


def _by_hand(links: fakes.FakeLinks, args: list[str]) -> None:
    """An address or one of the daemon's routes deleted on the box by hand."""
    if args[0] == "address":
        iface = ipaddress.ip_interface(args[2])
        links.delete_by_hand(args[1], iface.ip, iface.network.prefixlen)
        return
    opts = dict(zip(args[2::2], args[3::2], strict=True))
    links.delete_route_by_hand(RouteEvent(
        ipaddress.ip_network(args[1]), int(opts.get("table", 254)),
        gateway=ipaddress.ip_address(opts["via"]) if "via" in opts else None,
        ifname=opts.get("dev")))


def _host(path: Path) -> fakes.FakeHost:
    host = fakes.FakeHost()
    if not path.exists():
        return host
    host.links.clear()
    for raw in path.read_text().splitlines():
        words = shlex.split(raw, comments=True)
        if not words:
            continue
        match words:
            case ["link", ifname, state]:
                host.links[ifname] = state == "up"
            case ["address", ifname, cidr]:
                iface = ipaddress.ip_interface(cidr)
                host.addresses.setdefault(ifname, set()).add(
                    (iface.ip, iface.network.prefixlen))
            case _:
                raise ValueError(f"{path}: cannot read {raw!r}")
    return host


def _first_instance(config: Any) -> tuple[int, list[str]]:
    inst = config.instances[0]
    return inst.virtual_router_id, [str(v.address) for v in inst.virtual_ipaddresses]


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("-" if k in VOLATILE else _stable(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


class Recorders:
    """The recorders of one run, and the :class:`Edges` that hand them to the daemon."""

    def __init__(self, ch: fakes.Channels, host: fakes.FakeHost) -> None:
        self.ch = ch
        self.host = host
        self.state = fakes.FakeStateDir(ch)
        self.conflicts = fakes.FakeConflicts(ch)
        self.tracks = fakes.FakeTracks()
        self.pool: fakes.FakePool
        self.links: fakes.FakeLinks

    def _pool(self, on_packet: Any) -> fakes.FakePool:
        self.pool = fakes.FakePool(self.ch, on_packet)
        return self.pool

    def _links(self, on_link: Any) -> fakes.FakeLinks:
        self.links = fakes.FakeLinks(self.host, on_link)
        return self.links

    def edges(self) -> Edges:
        """The real notifier (its FIFO lines are the ``notify`` channel), fakes elsewhere."""
        real = Edges.real()
        return dataclasses.replace(
            real,
            netlink=lambda: fakes.FakeNetlink(self.host),
            addresses=lambda nl: fakes.FakeAddresses(self.ch, self.host),
            announcer=lambda *a: fakes.FakeAnnouncer(self.ch),
            sockets=self._pool,
            links=self._links,
            state_dir=lambda *a: self.state,
            notify_fifo=lambda path, **k: fakes.FakeFifo(self.ch, path),
            track_script=self.tracks,
            conflicts=self.conflicts,
            wall_clock=lambda: "WALL",
            firewall=lambda log: fakes.FakeFirewall(self.ch),
            vmacs=lambda nl: fakes.FakeVmacs(self.ch),
        )
