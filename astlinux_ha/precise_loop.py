"""The daemon's event loop: asyncio's, waking at its timers' deadlines to the microsecond.

asyncio sleeps in ``epoll_wait``, whose timeout is whole milliseconds: Python rounds the wait
up, so every timer (a master's advert among them) fired up to a millisecond late, a different
amount each time, and that was most of our advert jitter on the wire. Here the selector also
waits on a ``timerfd`` set to the exact deadline, which the kernel keeps in nanoseconds; the
timer slack of the process is lowered to match (the default 50 us would blur it again).

Linux only, through ctypes (no binding in Python's standard library before 3.13). Where the
calls are missing the daemon runs on asyncio's plain loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import select
import selectors
import time
from typing import Any

_CLOCK_MONOTONIC = 1  # the clock asyncio's loop.time() reads (time.monotonic)
_TFD_TIMER_ABSTIME = 1
_PR_SET_TIMERSLACK = 29
_TIMER_SLACK_NS = 1000


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> Any | None:
    try:
        # The process's own symbols, libc's among them (find_library would run ldconfig).
        libc = ctypes.CDLL(None, use_errno=True)
        libc.timerfd_create.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.timerfd_settime.argtypes = (ctypes.c_int, ctypes.c_int,
                                         ctypes.POINTER(_Itimerspec), ctypes.c_void_p)
        libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong)
    except (OSError, AttributeError):
        return None
    return libc


class PreciseEpollSelector(selectors.EpollSelector):
    """An epoll selector whose ``select(timeout)`` returns at ``timeout`` to the microsecond.

    The timerfd sits in the epoll set but not in the selector's map, so the base class never
    reports it; arming it again (at every wait) also clears an expiry nobody read.
    """

    def __init__(self, libc: Any) -> None:
        super().__init__()
        self._libc = libc
        fd = libc.timerfd_create(_CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            super().close()
            raise OSError(err, os.strerror(err))
        self._timerfd = fd
        self._spec = _Itimerspec()
        self._spec_ref = ctypes.byref(self._spec)
        self._armed = False
        # The base class's epoll object (its attribute since Python 3.4).
        epoll: select.epoll = getattr(self, "_selector")  # noqa: B009
        epoll.register(fd, select.EPOLLIN)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait for the registered files, at most ``timeout`` seconds (None: no limit)."""
        if timeout is not None and timeout > 0:
            deadline = time.monotonic() + timeout
            sec = int(deadline)
            value = self._spec.it_value
            value.tv_sec, value.tv_nsec = sec, int((deadline - sec) * 1e9)
            self._libc.timerfd_settime(self._timerfd, _TFD_TIMER_ABSTIME, self._spec_ref, None)
            self._armed = True
        elif self._armed:
            # Nothing to wake for: disarmed, so an old deadline does not end the wait.
            self._spec.it_value.tv_sec = self._spec.it_value.tv_nsec = 0
            self._libc.timerfd_settime(self._timerfd, 0, self._spec_ref, None)
            self._armed = False
        return super().select(timeout)

    def close(self) -> None:
        """Close the epoll set and the timerfd."""
        try:
            super().close()
        finally:
            if self._timerfd >= 0:
                os.close(self._timerfd)
                self._timerfd = -1


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The daemon's loop: asyncio's selector loop on :class:`PreciseEpollSelector`, or the
    plain one where timerfd is not available."""
    libc = _libc()
    if libc is None:
        return asyncio.new_event_loop()
    try:
        selector = PreciseEpollSelector(libc)
    except OSError:
        return asyncio.new_event_loop()
    # The kernel may defer a wake-up by the process's timer slack (50 us by default).
    libc.prctl(_PR_SET_TIMERSLACK, _TIMER_SLACK_NS)
    return asyncio.SelectorEventLoop(selector)
