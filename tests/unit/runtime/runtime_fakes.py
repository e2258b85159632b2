"""Recording fakes of every edge the supervisor creates (see astlinux_ha.runtime.ports.Edges),
and a harness that runs a Supervisor on a real asyncio loop with them."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from astlinux_ha.net import AddressEvent, LinkEvent
from astlinux_ha.net.announce import AnnounceResult
from astlinux_ha.options import Options, load_for_run
from astlinux_ha.runtime.ports import Edges
from astlinux_ha.scripts.users import UserLookupError
from astlinux_ha.supervisor import Supervisor

NOW = "2026-12-01T00:00:00.000+00:00"


class Events(list[str]):
    """What happened at every edge, in order."""


class FakeNetlink:
    def __init__(self, ev: Events) -> None:
        self.ev = ev

    def close(self) -> None:
        self.ev.append("netlink close")


class FakeAddresses:
    def __init__(self, ev: Events) -> None:
        self.ev = ev

    async def add_vips(self, vips: list[Any]) -> list[Any]:
        self.ev.append("add " + ",".join(str(v.address) for v in vips))
        return []

    async def remove_vips(self, vips: list[Any]) -> list[Any]:
        self.ev.append("remove " + ",".join(str(v.address) for v in vips))
        return []

    async def remove_leftovers(self, vips: list[Any]) -> list[Any]:
        return []

    async def add_routes(self, routes: list[Any]) -> list[Any]:
        return []

    async def remove_routes(self, routes: list[Any]) -> list[Any]:
        return []


class FakeAnnouncer:
    def __init__(self, ev: Events) -> None:
        self.ev = ev

    async def announce(self, ifname: str, addrs: list[Any], repeat: int) -> AnnounceResult:
        return AnnounceResult(sent=repeat)


class FakeSocket:
    def __init__(self, ev: Events, key: Any) -> None:
        self.ev, self.key = ev, key

    def send(self, payload: bytes, dst: Any = None, src: Any = None, ttl: Any = None) -> None:
        # VRRP: byte 1 the VRID, byte 2 the priority (after the AH header for AH: not used here)
        self.ev.append(f"advert vrid {payload[1]} prio {payload[2]}")


class FakePool:
    def __init__(self, ev: Events, on_packet: Any, refuse: set[str]) -> None:
        self.ev, self.on_packet, self.refuse = ev, on_packet, refuse
        self.held: list[Any] = []
        self.reopen: list[Any] = []
        self.on_acquire: Any = None  # called on each acquire: a test's hook into a reload

    def acquire(self, key: Any, group: Any = None) -> FakeSocket:
        if self.on_acquire is not None:
            self.on_acquire()
        if key.ifname in self.refuse:
            raise OSError(19, "No such device")
        self.held.append(key)
        return FakeSocket(self.ev, key)

    def release(self, key: Any) -> None:
        self.held.remove(key)

    def reopen_interface(self, ifname: str) -> list[Any]:
        self.ev.append(f"reopen {ifname}")
        return list(self.reopen)

    def close(self) -> None:
        self.ev.append("pool close")


class FakeLinks:
    """The link watcher: links and addresses set by the test, events sent on request."""

    def __init__(self, host: Host, on_event: Any) -> None:
        self.host, self.on_event = host, on_event
        self.resyncs = 3

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self.host.ev.append("links close")

    def link(self, ifname: str) -> LinkEvent | None:
        return self.host.links.get(ifname)

    def addresses(self, ifname: str | None) -> set[tuple[Any, int]]:
        return {(a, 24) for a in self.host.addresses}

    def set_link(self, ifname: str, up: bool, ifindex: int | None = None,
                 exists: bool = True) -> None:
        old = self.host.links.get(ifname)
        index = ifindex if ifindex is not None else old.ifindex if old else 2
        ev = LinkEvent(ifname, index, up, up, up, "UP" if up else "DOWN", exists)
        self.host.links[ifname] = ev
        self.on_event(ev)

    def set_address(self, ifname: str, address: str, added: bool) -> None:
        ip = ipaddress.ip_address(address)
        (self.host.addresses.add if added else self.host.addresses.discard)(ip)
        self.on_event(AddressEvent(ifname, 2, ip, 24, added))


class FakeStateDir:
    def __init__(self, ev: Events) -> None:
        self.ev = ev
        self.status: dict[str, Any] | None = None
        self.writes = 0
        self.journal: list[dict[str, Any]] = []
        self.dumps: dict[str, str] = {}
        self.refuse_dumps = False

    def prepare(self) -> None:
        pass

    def write_status(self, status: dict[str, Any]) -> None:
        self.status = status
        self.writes += 1

    def flush(self) -> None:
        pass

    def append_transition(self, record: dict[str, Any]) -> None:
        self.journal.append(record)

    def write_dump(self, name: str, text: str) -> Path | None:
        if self.refuse_dumps:
            return None
        self.dumps[name] = text
        return Path("/state") / name


class FakeNotifier:
    def __init__(self, ev: Events, kind: str, name: str, scripts: Any, *,
                 fifos: Any = (), umask: int = 0) -> None:
        self.ev, self.kind, self.name, self.scripts = ev, kind, name, scripts
        self.fifos = tuple(fifos)
        self.umask = umask

    def notify(self, state: str, priority: int) -> None:
        self.ev.append(f"notify {self.name} {state}")

    def hurry(self) -> None:
        self.ev.append(f"hurry {self.name}")

    def rescript(self, scripts: Any, fifos: Any) -> None:
        self.scripts, self.fifos = scripts, tuple(fifos)

    async def drain(self) -> None:
        pass

    async def close(self) -> None:
        self.ev.append(f"notifier close {self.name}")


class FakeFifo:
    def __init__(self, host: Host, path: str, *, script: Any = None, uid: Any = None,
                 gid: Any = None, umask: int = 0) -> None:
        self.host, self.path, self.script, self.uid, self.gid = host, path, script, uid, gid

    async def open(self) -> bool:
        return self.path not in self.host.refuse_fifos

    async def close(self, grace: float | None = None) -> None:
        self.host.ev.append(f"fifo close {self.path} grace {grace}")

    def write(self, line: str) -> None:
        pass


class FakeTrack:
    def __init__(self, host: Host, spec: Any, on_change: Any, *, umask: int = 0) -> None:
        self.spec, self.on_change, self.host = spec, on_change, host
        host.tracks[spec.name] = self

    def start(self) -> None:
        self.host.ev.append(f"track start {self.spec.name}")

    async def stop(self) -> None:
        self.host.ev.append(f"track stop {self.spec.name}")


class FakeWatch:
    """The split-brain ARP watch of a master."""

    def __init__(self, ev: Events, ifname: str) -> None:
        self.ev, self.ifname = ev, ifname

    def start(self) -> None:
        self.ev.append(f"watch {self.ifname}")

    def probe(self, source: Any) -> int:
        return 0

    def close(self) -> None:
        self.ev.append(f"watch close {self.ifname}")


@dataclass
class Info:
    """What get_interface answers."""

    v4: Any = None

    def primary_ipv4(self, exclude: Any = ()) -> Any:
        return self.v4

    def link_local_ipv6(self) -> Any:
        return None


@dataclass
class Host:
    """The fake host every fake edge reads and records into."""

    ev: Events = field(default_factory=Events)
    links: dict[str, LinkEvent] = field(default_factory=dict)
    addresses: set[Any] = field(default_factory=set)
    interfaces: dict[str, Info] = field(default_factory=dict)
    refuse_sockets: set[str] = field(default_factory=set)
    refuse_fifos: set[str] = field(default_factory=set)
    tracks: dict[str, FakeTrack] = field(default_factory=dict)
    notifiers: dict[str, FakeNotifier] = field(default_factory=dict)
    state: FakeStateDir | None = None
    pool: FakePool | None = None
    watcher: FakeLinks | None = None

    def edges(self) -> Edges:
        """Edges that build this host's fakes (and remember the ones the test looks at)."""

        def state_dir(path: str, log: logging.Logger) -> FakeStateDir:
            self.state = FakeStateDir(self.ev)
            return self.state

        def pool(on_packet: Any) -> FakePool:
            self.pool = FakePool(self.ev, on_packet, self.refuse_sockets)
            return self.pool

        def links(on_event: Any) -> FakeLinks:
            self.watcher = FakeLinks(self, on_event)
            return self.watcher

        def notifier(kind: str, name: str, scripts: Any, **kw: Any) -> FakeNotifier:
            self.notifiers[name] = FakeNotifier(self.ev, kind, name, scripts, **kw)
            return self.notifiers[name]

        async def interface(netlink: Any, ifname: str) -> Info | None:
            return self.interfaces.get(ifname)

        def user(name: str, group: str | None) -> Any:
            if name == "nobody-here":
                raise UserLookupError(f"Script user '{name}' does not exist")
            return type("Owner", (), {"uid": 1000, "gid": 1000})()

        return Edges(
            netlink=lambda: FakeNetlink(self.ev),
            addresses=lambda nl: FakeAddresses(self.ev),
            announcer=lambda a, b: FakeAnnouncer(self.ev),
            sockets=pool,
            links=links,
            state_dir=state_dir,
            notifier=notifier,
            notify_fifo=lambda path, **kw: FakeFifo(self, path, **kw),
            track_script=lambda spec, cb, **kw: FakeTrack(self, spec, cb, **kw),
            interface=interface,
            user=user,
            clock=asyncio.get_running_loop,
            conflicts=lambda ifname, vips, on_claim: FakeWatch(self.ev, ifname),
            wall_clock=lambda: NOW,
        )

    def link_up(self, *names: str) -> None:
        for n in names:
            self.links[n] = LinkEvent(n, 2, True, True, True, "UP")


class Daemon:
    """A supervisor serving in a task, and what it runs."""

    def __init__(self, sup: Supervisor, host: Host, task: asyncio.Task[None]) -> None:
        self.sup, self.host, self.task = sup, host, task

    def runner(self, name: str) -> Any:
        return self.sup.runtime.runners[name]

    async def reload(self, text: str | None = None) -> None:
        """Write ``text`` over the config (if given), SIGHUP, and wait for the reload."""
        if text is not None:
            Path(self.sup.options.config_file).write_text(text)
        self.sup.request_reload()
        assert self.sup._reloading is not None
        await self.sup._reloading

    async def stop(self) -> None:
        self.sup.request_stop()
        await asyncio.wait_for(self.task, 10)


async def settle(n: int = 5) -> None:
    """Let queued callbacks and chained netlink work run."""
    for _ in range(n):
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, text: str, host: Host | None = None,
                  log: logging.Logger | None = None, **options: Any) -> AsyncIterator[Daemon]:
    """Start a Supervisor on ``text`` (written to tmp_path/keepalived.conf) with fake edges;
    stopped at the end unless the test stopped it."""
    host = host or Host()
    conf = tmp_path / "keepalived.conf"
    conf.write_text(text)
    opts = replace(Options(config_file=str(conf), state_dir=str(tmp_path)), **options)
    result = load_for_run(opts)
    assert result.config is not None, [p.render() for p in result.problems]
    sup = Supervisor(opts, result.config, log or logging.getLogger("test.runtime"),
                     edges=host.edges())
    task = asyncio.get_running_loop().create_task(sup.serve())
    for _ in range(50):
        await asyncio.sleep(0)
        if host.state is not None and host.state.writes:
            break
    daemon = Daemon(sup, host, task)
    try:
        yield daemon
    finally:
        if not task.done():
            await daemon.stop()
