"""Notify scripts and notify FIFOs for one VRRP instance or sync group, in transition order.

keepalived fires notifies and forgets them, so two quick transitions can run their scripts out
of order (its issues #996, #1055). Here each instance (or group) has its own queue and worker:
one event's scripts run to completion, in keepalived's order (the state's own script, then the
generic ``notify`` with ``INSTANCE|GROUP NAME STATE PRIORITY``), before the next event's start.
A notify that hangs only holds up its own instance, and only for ``order_timeout`` seconds;
after that it is left running, as keepalived would leave it, and the queue moves on. STOP
scripts are killed (group SIGKILL) if still running after 1 s, as keepalived does. Once the
daemon is stopping (:meth:`Notifier.hurry`), nothing but STOP scripts is waited for.

FIFO lines (``INSTANCE "VI_1" MASTER 100``) are written immediately by notify(), which is
synchronous and never blocks: the FIFO is opened O_NONBLOCK, and a full FIFO drops the line.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import stat
import termios
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from astlinux_ha import safefile

from .runner import DEFAULT_UMASK, KILL_GRACE, RunnableScript, kill_group, spawn

log = logging.getLogger("astlinux_ha.scripts")

STOP_KILL_AFTER = 1.0
FIFO_MODE = 0o600
DEFAULT_ORDER_TIMEOUT = 30.0

# States that run scripts; the rest (MASTER_RX_LOWER_PRI, *_PRIORITY) are events.
SCRIPT_STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")
FIFO_ONLY_EVENTS = ("MASTER_PRIORITY", "BACKUP_PRIORITY")


@dataclass(frozen=True)
class NotifyScripts:
    """The checked notify scripts of one instance or group (None: not configured or refused)."""

    master: RunnableScript | None = None
    backup: RunnableScript | None = None
    fault: RunnableScript | None = None
    stop: RunnableScript | None = None
    deleted: RunnableScript | None = None
    master_rx_lower_pri: RunnableScript | None = None
    generic: RunnableScript | None = None
    # keepalived reports DELETED as FAULT unless notify_deleted is configured.
    notify_deleted: bool = False

    def for_state(self, state: str) -> RunnableScript | None:
        """The state-specific script keepalived runs on entering ``state``."""
        return {
            "MASTER": self.master,
            "BACKUP": self.backup,
            "FAULT": self.fault,
            "STOP": self.stop,
            "DELETED": self.deleted,
            "MASTER_RX_LOWER_PRI": self.master_rx_lower_pri,
        }.get(state)


def fifo_line(kind: str, name: str, state: str, priority: int) -> str:
    """keepalived's FIFO line: ``INSTANCE "VI_1" MASTER 100`` plus a newline."""
    return f'{kind} "{name}" {state} {priority}\n'


class NotifyFifo:
    """A notify FIFO (``notify_fifo`` or ``vrrp_notify_fifo``) and its optional reader script.

    open() creates the FIFO, opens it read-write and non-blocking (so writes never wait for a
    reader), gives it mode 0600 and its reader as owner (the ``*_fifo_script``'s user, else
    root), then starts that script with the FIFO path as its last argument. keepalived makes it
    0644, which lets any local user read, and steal, the lines. A pre-existing path that is not
    a FIFO owned by us (or by the reader) is refused.
    """

    def __init__(
        self,
        path: str,
        *,
        script: RunnableScript | None = None,
        uid: int | None = None,
        gid: int | None = None,
        label: str = "",
        umask: int = DEFAULT_UMASK,
    ) -> None:
        self.path = path
        self.script = script
        # The reader owns the FIFO: the fifo script's user, else the daemon.
        owner = script.user if script is not None else None
        self.uid = uid if uid is not None else owner.uid if owner else os.geteuid()
        self.gid = gid if gid is not None else owner.gid if owner else os.getegid()
        self.label = label
        self.umask = umask
        self.fd: int | None = None
        self.created = False
        self.process: asyncio.subprocess.Process | None = None
        self._dir: int | None = None
        self._name = ""

    async def open(self) -> bool:
        """Create/open the FIFO, then start its script; False (and logged) when refused."""
        parent, self._name = os.path.split(os.path.abspath(self.path))
        try:
            # Everything below goes through this descriptor: a symlink swapped into the path
            # meanwhile, or a directory someone else owns, is never where the FIFO is made.
            self._dir = safefile.open_dir(os.path.realpath(parent))
        except OSError as exc:
            log.info("Unable to use %snotify fifo %s: %s %s", self.label, self.path,
                     parent, exc.strerror)
            return False
        try:
            os.mkfifo(self._name, FIFO_MODE, dir_fd=self._dir)
            self.created = True
        except FileExistsError:
            pass
        except OSError:
            log.info("Unable to create %snotify fifo %s", self.label, self.path)
            await self._give_up()
            return False
        try:
            fd = os.open(self._name, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW,
                         dir_fd=self._dir)
        except OSError as exc:
            log.info("Unable to open %snotify fifo %s - errno %d", self.label, self.path, exc.errno)
            await self._give_up()
            return False
        st = os.fstat(fd)
        if (not stat.S_ISFIFO(st.st_mode) or st.st_uid not in (os.geteuid(), self.uid)
                or st.st_nlink != 1):
            # Whatever was already there could be a planted file capturing our notifications,
            # or a hard link to another program's FIFO we would re-own and write into.
            log.info("%snotify fifo %s is not a fifo we own - not using", self.label, self.path)
            os.close(fd)
            await self._give_up()
            return False
        try:
            # On the descriptor, so what gets the mode is what was checked: only its reader
            # (root, or the fifo script's user) may read the lines, whatever was there before.
            if (st.st_uid, st.st_gid) != (self.uid, self.gid):
                os.fchown(fd, self.uid, self.gid)
            os.fchmod(fd, FIFO_MODE)
        except OSError as exc:
            log.info("Failed to set owner and mode of %snotify fifo %s: %s", self.label,
                     self.path, exc.strerror)
            os.close(fd)
            await self._give_up()
            return False
        self.fd = fd
        if self.script is not None:
            try:
                self.process = await spawn(self.script.with_args(self.path), umask=self.umask)
            except OSError as exc:
                log.warning("Error exec-ing command '%s': %s", self.script.argv[0], exc)
        return True

    def _unlink_and_forget_dir(self) -> None:
        # Only a FIFO this daemon made is removed, through the directory it was made in.
        if self._dir is None:
            return
        if self.created:
            with contextlib.suppress(OSError):
                os.unlink(self._name, dir_fd=self._dir)
            self.created = False
        os.close(self._dir)
        self._dir = None

    async def _give_up(self) -> None:
        self._unlink_and_forget_dir()
        if self.process is not None:
            await kill_group(self.process)
            self.process = None

    def write(self, line: str) -> None:
        """Write one line without blocking; a full or closed FIFO loses it, as in keepalived."""
        if self.fd is None:
            return
        try:
            os.write(self.fd, line.encode())
        except OSError as exc:
            log.debug("notify fifo %s: write failed: %s", self.path, exc)

    async def close(self, *, grace: float = KILL_GRACE) -> None:
        """Unlink first (a looping reader must not reopen it), let the reader take what is
        written (at most ``grace``), close, stop the script."""
        self._unlink_and_forget_dir()
        if self.fd is not None and self.process is not None:
            # A reload's DELETED line is written just before the FIFO closes: the reader is
            # stopped with it, and lines still in the pipe would be lost with the pipe.
            deadline = asyncio.get_running_loop().time() + grace
            while self._unread() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.process is not None:
            await kill_group(self.process, grace=grace)
            self.process = None

    def _unread(self) -> int:
        """Bytes written to the FIFO that its reader has not taken yet."""
        buf = bytearray(4)
        try:
            fcntl.ioctl(self.fd or -1, termios.FIONREAD, buf)
        except OSError:
            return 0
        return int.from_bytes(buf, "little")


@dataclass(frozen=True)
class _Event:
    state: str
    priority: int


class Notifier:
    """Runs one instance's (or sync group's) notifies in the order its transitions happened.

    One per instance, and most instances have no script: the queue, its worker and the set of
    stragglers exist only from the first script on (issue 16: an idle asyncio Queue with its
    Event is ~3.5 KiB, a sixth of an instance's memory).
    """

    __slots__ = ("kind", "name", "scripts", "fifos", "umask", "order_timeout", "_queue",
                 "_worker", "_stragglers", "_hurry", "_wake")

    def __init__(
        self,
        kind: Literal["INSTANCE", "GROUP"],
        name: str,
        scripts: NotifyScripts,
        *,
        fifos: Sequence[NotifyFifo] = (),
        umask: int = DEFAULT_UMASK,
        order_timeout: float = DEFAULT_ORDER_TIMEOUT,
    ) -> None:
        self.kind = kind
        self.name = name
        self.scripts = scripts
        self.fifos = tuple(fifos)
        self.umask = umask
        self.order_timeout = order_timeout
        self._queue: asyncio.Queue[_Event | None] | None = None  # with the worker
        self._worker: asyncio.Task[None] | None = None
        self._stragglers: set[asyncio.subprocess.Process] | None = None
        self._hurry = False
        # Set while a non-STOP script is waited on, so hurry() can end the wait.
        self._wake: asyncio.Future[None] | None = None

    def notify(self, state: str, priority: int) -> None:
        """Report entering ``state``; returns at once. Groups always report priority 0."""
        if state == "DELETED" and not self.scripts.notify_deleted:
            state = "FAULT"
        if self.kind == "GROUP":
            priority = 0
        if state not in FIFO_ONLY_EVENTS and (
            self.scripts.for_state(state) or (state in SCRIPT_STATES and self.scripts.generic)
        ):
            if self._queue is None:
                self._queue = asyncio.Queue()
                self._worker = asyncio.get_running_loop().create_task(
                    self._run(self._queue), name=f"notify {self.name}"
                )
            self._queue.put_nowait(_Event(state, priority))
        line = fifo_line(self.kind, self.name, state, priority)
        for fifo in self.fifos:
            fifo.write(line)

    async def _run(self, queue: asyncio.Queue[_Event | None]) -> None:
        while (event := await queue.get()) is not None:
            try:
                await self._run_event(event)
            except Exception:  # a broken notify must never stop later ones
                log.exception("(%s) notify %s failed", self.name, event.state)
            finally:
                queue.task_done()
        queue.task_done()

    async def _run_event(self, event: _Event) -> None:
        commands = []
        specific = self.scripts.for_state(event.state)
        if specific is not None:
            commands.append(specific)
        if event.state in SCRIPT_STATES and self.scripts.generic is not None:
            commands.append(
                self.scripts.generic.with_args(
                    self.kind, self.name, event.state, str(event.priority)
                )
            )
        for command in commands:
            await self._run_one(command, stop=event.state == "STOP")

    async def _run_one(self, command: RunnableScript, *, stop: bool) -> None:
        try:
            proc = await spawn(command, umask=self.umask)
        except OSError as exc:
            log.warning("Error exec-ing command '%s': %s", command.argv[0], exc)
            return
        if stop:
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), STOP_KILL_AFTER)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            return
        if self._hurry:
            self._straggler(proc)
            return
        waiter = asyncio.ensure_future(proc.wait())
        self._wake = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait((waiter, self._wake), timeout=self.order_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._wake = None
        if waiter.done():
            return
        waiter.cancel()
        if not self._hurry:
            log.warning(
                "(%s) notify script %s still running after %gs - not waiting for it",
                self.name,
                command.argv[0],
                self.order_timeout,
            )
        self._straggler(proc)

    def _straggler(self, proc: asyncio.subprocess.Process) -> None:
        """Hold a script left running: its Process and transport must outlive our wait for it."""
        if self._stragglers is None:
            self._stragglers = set()
        self._stragglers.add(proc)

    def hurry(self) -> None:
        """Shutting down: wait only for STOP scripts from now on (1 s, then SIGKILL).

        Other notifies still start, in order, but are not waited for, and one being waited
        on is left running: keepalived leaves every notify but STOP to itself, and the init
        script gives a stop only so long.
        """
        self._hurry = True
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def rescript(self, scripts: NotifyScripts, fifos: Sequence[NotifyFifo]) -> None:
        """A reload's verdicts and FIFOs: every notify from now on, queued ones included,
        runs what the new check allows (a script refused now never runs again)."""
        self.scripts = scripts
        self.fifos = tuple(fifos)

    async def drain(self) -> None:
        """Wait until every notify queued so far has run (or been given up on)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Finish queued notifies, then stop the worker; stragglers are left as keepalived would."""
        if self._queue is not None and self._worker is not None:
            self._queue.put_nowait(None)
            await self._worker
            self._worker = None
            self._queue = None
        if self._stragglers is not None:
            self._stragglers = {p for p in self._stragglers if p.returncode is None} or None
