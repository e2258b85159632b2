"""The daemon's loop: asyncio's, on an epoll selector that also waits on a timerfd."""

from __future__ import annotations

import asyncio
import os

from astlinux_ha import precise_loop


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_loop_runs_timers_and_readers_and_closes_its_timerfd():
    before = _fds()
    loop = precise_loop.new_event_loop()
    assert isinstance(loop._selector, precise_loop.PreciseEpollSelector)  # type: ignore[attr-defined]
    r, w = os.pipe()
    got: list[str] = []

    async def main() -> None:
        running = asyncio.get_running_loop()
        done = running.create_future()
        running.add_reader(r, lambda: (got.append(os.read(r, 10).decode()), done.set_result(1)))
        running.call_at(running.time() + 0.0023, lambda: got.append("timer"))
        running.call_at(running.time() + 0.0047, os.write, w, b"data")
        await done
        running.remove_reader(r)

    loop.run_until_complete(main())
    loop.close()
    os.close(r)
    os.close(w)
    assert got == ["timer", "data"]
    assert _fds() == before


def test_an_expiry_nobody_read_is_never_reported_nor_ends_a_later_wait():
    libc = precise_loop._libc()
    sel = precise_loop.PreciseEpollSelector(libc)
    r, w = os.pipe()
    try:
        assert sel.select(0.0005) == []  # the timerfd fired: not a file of the caller's
        assert sel.select(0) == []
        key = sel.register(r, precise_loop.selectors.EVENT_READ)
        os.write(w, b"x")
        # No timeout: the old deadline was disarmed, only the pipe is ready.
        assert sel.select(None) == [(key, precise_loop.selectors.EVENT_READ)]
        # ... and holds no expiry that would make every wait without timers return at once.
        try:
            os.read(sel._timerfd, 8)
        except BlockingIOError:
            pass
        else:
            raise AssertionError("a stale expiry is still pending on the timerfd")
    finally:
        sel.close()
        os.close(r)
        os.close(w)


def test_without_timerfd_the_daemon_runs_on_asyncio_s_plain_loop(monkeypatch):
    monkeypatch.setattr(precise_loop, "_libc", lambda: None)
    loop = precise_loop.new_event_loop()
    try:
        assert not isinstance(getattr(loop, "_selector", None),
                              precise_loop.PreciseEpollSelector)
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()
