"""runtime.ports: the daemon's real edges are the real classes, each in its own field."""

from __future__ import annotations

import asyncio
import datetime

from astlinux_ha import net, state
from astlinux_ha.net import conflict
from astlinux_ha.runtime.ports import Edges, wall_clock
from astlinux_ha.scripts import notify, track, users


def test_the_real_edges() -> None:
    e = Edges.real()
    assert (e.netlink, e.addresses, e.announcer, e.sockets, e.links) == (
        net.Netlink, net.AddressManager, net.Announcer, net.SocketPool, net.LinkWatcher)
    assert (e.state_dir, e.notifier, e.notify_fifo, e.track_script) == (
        state.StateDir, notify.Notifier, notify.NotifyFifo, track.TrackScript)
    assert (e.interface, e.user, e.conflicts) == (
        net.get_interface, users.resolve_user, conflict.ConflictWatcher)

    async def loop() -> bool:
        return e.clock() is asyncio.get_running_loop()

    assert asyncio.run(loop())


def test_the_wall_clock_is_utc_iso_8601_in_milliseconds() -> None:
    now = wall_clock()
    parsed = datetime.datetime.fromisoformat(now)
    assert parsed.utcoffset() == datetime.timedelta(0)
    assert len(now.split(".")[1]) == len("123+00:00")
