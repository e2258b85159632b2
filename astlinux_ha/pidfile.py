"""The daemon's pid file: one daemon at a time, a stale file replaced, nothing planted followed.

"A daemon runs" means: some open file description holds a write lock on the file at the pid
file's path, and that file is one only we can open for writing (our euid's, no group or other
write bit: root's 0644 file in /var/run); or the pid recorded there is a live process that is a
VRRP daemon by its identity (:func:`is_vrrp_daemon`: root's, and its executable and argv[0..2]
are keepalived's or ours), which covers keepalived itself and an older daemon that took no
lock. A pid that merely has "keepalived" somewhere in its command line (a root ``vi
/etc/keepalived/keepalived.conf`` that inherited a stale pid) is not one.

The lock is an open-file-description write lock (F_OFD_SETLK, F_WRLCK, the whole file; Linux
3.15 and later), taken before the file is visible and held for the daemon's whole life; the
kernel drops it when the daemon dies, even by kill -9. Why this one:
- not flock: an flock needs only a read-only descriptor, and the file is 0644, so any local
  user could hold LOCK_SH or LOCK_EX on a stale file (one they waited on while the daemon ran,
  until it died uncleanly) and make every start refuse ("already running") and check() report
  a daemon. Linux keeps flock and record locks apart (on local file systems; /var/run is a
  tmpfs), so a user's flock now means nothing here.
- not a POSIX record lock (F_SETLK, lockf): it belongs to the process, and closing any other
  descriptor of the same file drops it. An OFD lock belongs to the open file description, like
  an flock, and O_CLOEXEC keeps that description out of scripts.

Why no user can fake a daemon: a write lock needs a descriptor open for writing (F_WRLCK on a
read-only one is EBADF), and open(O_WRONLY or O_RDWR) of a 0644 file of root's is EACCES for
anyone but root. Our own file never has a moment where it can be opened by someone else and is
unlocked: it is created 0600, locked, and only then made 0644. A file that others can write
(not ours, or group/other-writable) is never taken as proof, whatever lock it carries: only
its recorded pid's identity counts.

Why no user can block one: what a user *can* hold, with a read-only descriptor, is an flock
(ignored) or a read lock (F_RDLCK, OFD or POSIX). A read lock cannot be taken while we hold our
write lock, so a running daemon's file stays unlockable. On a stale file it can, and it makes
our write-lock attempt on that file fail; so a failed attempt is not taken as a verdict. The
question asked instead is F_OFD_GETLK with F_RDLCK: a read-lock query conflicts with write
locks only, so it answers "does anyone hold a write lock?" whatever read locks sit there (the
holder is not reported for OFD locks, l_pid is -1, so who runs still comes from the recorded
pid). A write lock: a daemon (refused). Only read locks: a user's, ignored; the stale file is
replaced by rename(), and the user's lock stays on the old, now nameless, inode. A user can
also read-lock nothing of ours in advance: the next daemon's file does not exist yet, and the
temporary file is 0600 until it is locked.

How the file is placed, so that no moment shows a half-written or unlocked file and nothing
planted at the path is ever followed or written:
1. our pid goes into a new file under a random name in the same directory (O_CREAT|O_EXCL|
   O_NOFOLLOW: a planted name makes the open fail instead of being followed), created 0600,
   write-locked, then made 0644 with fchmod (the umask does not decide);
2. nothing at the path: link() it there (atomic, fails if someone else was faster: look again);
   a regular file: if it carries a daemon's write lock, refused; else take a write lock on it
   ourselves, through a second, writable description of that same inode (reopened by
   /proc/self/fd, never by name, and never written), so that a daemon racing us for the same
   stale file finds it write-locked and refuses; check the path still names that inode (else
   it was replaced meanwhile: look again), then rename() ours over it; a symlink, FIFO or other
   non-file (never a daemon's): rename() ours over it, which replaces the entry and never
   touches what a symlink points to;
3. the path is checked to name our inode.
The directory is resolved once (a descriptor, *at calls), so a parent swapped meanwhile cannot
split the steps. What remains: two daemons starting in the same microseconds could both rename
while a non-file sits at the path, or while a user's read lock on the stale file keeps both from
write-locking it; the check in step 3 catches the earlier one in all but a sub-microsecond
window. A user can widen nothing there (both starts are root's), and cannot make a start fail.

The lock is taken after detaching, when the final pid is known; :func:`check` runs before, so
the init script still sees a non-zero exit in the usual case, and two daemons started at the
same instant are still told apart by the lock (the loser logs and exits).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from astlinux_ha.safefile import temp_name

MODE = 0o644
# The temporary file's mode until it is locked: nobody else can open it, so nobody can lock it.
_UNLOCKED_MODE = 0o600
# The names a VRRP daemon's program has: keepalived's binary, our entry script.
DAEMON_PROGRAMS = frozenset({"keepalived", "astlinux-ha"})
_PYTHON = re.compile(r"python[0-9.]*")
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_PLACE_TRIES = 16
_MAX_PID_BYTES = 64
# Open-file-description record locks (Linux >= 3.15); the numbers are <fcntl.h>'s, for a
# Python whose fcntl module does not export them.
F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", 36)
F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)
F_OFD_SETLKW = getattr(fcntl, "F_OFD_SETLKW", 38)
# struct flock {short l_type, l_whence; off_t l_start, l_len; pid_t l_pid;} with the native
# alignment; "0q" pads its tail as the C compiler does. off_t is 64-bit here on 32-bit systems
# too (Python is built with large files), which is also what the kernel expects for F_OFD_*.
_FLOCK = struct.Struct("@hhqqi0q")


class PidFileError(Exception):
    """Another daemon holds the pid file, or it cannot be written."""


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """What tells a VRRP daemon from another program: its argv, executable and uids."""

    argv: tuple[str, ...]
    exe: str  # basename of /proc/PID/exe, without a " (deleted)" suffix
    real_uid: int
    effective_uid: int


def is_vrrp_daemon(proc: ProcessIdentity, our_uid: int = 0) -> bool:
    """True when ``proc`` is keepalived or one of our daemons, judged strictly.

    Root's (or ``our_uid``'s, when an unprivileged test asks about its own children), and
    either a Python interpreter running ``-m astlinux_ha`` or the ``astlinux-ha`` script as
    argv[1], or a program whose executable and argv[0] are both named keepalived or
    astlinux-ha. The executable comes from the kernel, so ``exec -a keepalived sleep`` is
    not one, and a name elsewhere in the command line counts for nothing.
    """
    if {proc.real_uid, proc.effective_uid} - {0, our_uid} or not proc.argv:
        return False
    prog = os.path.basename(proc.argv[0])
    if _PYTHON.fullmatch(proc.exe):
        if not _PYTHON.fullmatch(prog):
            return False
        args = proc.argv[1:3]
        return list(args) == ["-m", "astlinux_ha"] or (
            len(args) >= 1 and os.path.basename(args[0]) == "astlinux-ha")
    return proc.exe in DAEMON_PROGRAMS and prog == proc.exe


def identity(pid: int) -> ProcessIdentity | None:
    """``pid``'s identity (psutil, from /proc), or None when it is gone, a zombie or unreadable."""
    import psutil  # only at start and stop: not kept in the running daemon's hot imports

    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            argv = tuple(proc.cmdline())
            exe = proc.exe()
            uids = proc.uids()
    except (psutil.Error, OSError):
        return None
    if not argv:
        return None
    exe = os.path.basename(exe.removesuffix(" (deleted)"))
    return ProcessIdentity(argv, exe, uids.real, uids.effective)


def _open_dir(path: Path) -> int:
    # The parent is followed (/var/run is a link to /run on most systems); the file is not.
    return os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _read_pid(fd: int) -> int | None:
    data = os.pread(fd, _MAX_PID_BYTES, 0)
    text = data.decode("ascii", errors="replace").strip()
    return int(text) if text.isdigit() else None


def flock_struct(kind: int) -> bytes:
    """A struct flock for ``kind`` (F_RDLCK, F_WRLCK, F_UNLCK) over the whole file.
    l_pid must be 0: F_OFD_* refuse anything else (EINVAL)."""
    return _FLOCK.pack(kind, os.SEEK_SET, 0, 0, 0)


def _write_lock(fd: int) -> bool:
    """Take an OFD write lock on all of ``fd``'s file (``fd`` open for writing); False when
    another description holds a lock in the way (a daemon's write lock or a user's read one)."""
    try:
        fcntl.fcntl(fd, F_OFD_SETLK, flock_struct(fcntl.F_WRLCK))
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):  # POSIX allows either for "held"
            return False
        raise
    return True


def _write_locked(fd: int) -> bool:
    """True when another open file description (or process, for a POSIX lock) holds a write
    lock on some part of ``fd``'s file. A read-lock query conflicts with write locks only, so
    read locks (all a user can take on a file it cannot open for writing) are not seen."""
    got = fcntl.fcntl(fd, F_OFD_GETLK, flock_struct(fcntl.F_RDLCK))
    return _FLOCK.unpack(got)[0] != fcntl.F_UNLCK


def _only_we_write(st: os.stat_result) -> bool:
    """True when nobody but us (and root) can open the file for writing, so nobody else can
    hold a write lock on it: only then is a write lock a daemon's."""
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _daemon_locked(fd: int, st: os.stat_result) -> bool:
    return _only_we_write(st) and _write_locked(fd)


def _identified_owner(fd: int) -> int | None:
    """The pid recorded in ``fd`` when it is a live VRRP daemon other than us, else None.
    (Reads only: a caller holding the file's lock keeps it.)"""
    pid = _read_pid(fd)
    if pid is None or pid == os.getpid():
        return None
    proc = identity(pid)
    # A recycled pid that now belongs to some other program makes the file stale.
    return pid if proc is not None and is_vrrp_daemon(proc, os.geteuid()) else None


def _owner_of_open(fd: int) -> int | None:
    """The running daemon behind the open pid file ``fd``: its pid (0 if it wrote none)."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return None
    if _daemon_locked(fd, st):
        return _read_pid(fd) or 0
    return _identified_owner(fd)


def live_owner(path: str | os.PathLike[str]) -> int | None:
    """The pid of the daemon running on ``path`` (0 when it is locked but names no pid),
    or None when no daemon runs there. A symlink or a non-file at ``path`` is nobody's."""
    target = Path(path)
    try:
        dir_fd = _open_dir(target)
    except OSError:
        return None
    try:
        fd = os.open(target.name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    try:
        return _owner_of_open(fd)
    finally:
        os.close(fd)


def _running(path: Path, pid: int) -> PidFileError:
    shown = pid if pid else "unknown"
    return PidFileError(f"daemon already running with pid {shown} (pid file {path})")


def check(path: str | os.PathLike[str]) -> None:
    """Raise PidFileError if a live daemon owns ``path`` or its directory is unusable.

    A stale file is left alone here: :func:`acquire` replaces it atomically, and removing
    it now could remove the file of a daemon that placed it a moment later.
    """
    target = Path(path)
    pid = live_owner(target)
    if pid is not None:
        raise _running(target, pid)
    try:
        os.close(_open_dir(target))
    except OSError as exc:
        raise PidFileError(f"cannot write pid file {path}: {exc.strerror}") from None


class PidFile:
    """The pid file we hold: locked and ours until :meth:`release`."""

    def __init__(self, path: Path, dir_fd: int, fd: int) -> None:
        self.path, self._dir_fd, self._fd = path, dir_fd, fd

    def ours(self) -> bool:
        """True while the path still names the file we placed and locked."""
        try:
            st = os.stat(self.path.name, dir_fd=self._dir_fd, follow_symlinks=False)
        except OSError:
            return False
        mine = os.fstat(self._fd)
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)

    def release(self) -> None:
        """Remove the file if it is still ours (a successor may have replaced it), unlock."""
        if self._fd < 0:
            return
        try:
            # Unlinked while still locked: a daemon starting now waits on nothing stale.
            if self.ours():
                os.unlink(self.path.name, dir_fd=self._dir_fd)
        except OSError:
            pass
        finally:
            os.close(self._fd)  # the last descriptor of the description: the lock goes
            os.close(self._dir_fd)
            self._fd = self._dir_fd = -1


def _new_file(dir_fd: int, name: str, pid: int) -> tuple[str, int]:
    for _ in range(_PLACE_TRIES):
        temp = temp_name(name)
        try:
            fd = os.open(temp, _NEW_FLAGS, _UNLOCKED_MODE, dir_fd=dir_fd)
        except FileExistsError:
            continue
        try:
            os.write(fd, f"{pid}\n".encode("ascii"))
            # 0600 so far (the umask can only narrow it): a user who spotted the random name
            # could not open the file to read-lock it before our write lock is in place.
            if not _write_lock(fd):
                raise BlockingIOError(errno.EAGAIN, "locked by someone else", temp)
            os.fchmod(fd, MODE)
        except BaseException:
            os.close(fd)
            os.unlink(temp, dir_fd=dir_fd)
            raise
        return temp, fd
    raise FileExistsError(errno.EEXIST, "no free temporary name", name)


def _claim(fd: int) -> int | None:
    """A second descriptor on regular file ``fd``'s inode, open for writing and write-locked,
    or None when that cannot be had: a lock of someone else's is in the way (the caller tells
    a daemon's write lock from a user's read locks), or the file cannot be opened for writing
    (another user's, for an unprivileged test). Reopened through /proc/self/fd, so it is that
    inode and no other whatever the path names by now; it is never written."""
    try:
        rw = os.open(f"/proc/self/fd/{fd}", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if _write_lock(rw):
            return rw
    except BaseException:
        os.close(rw)
        raise
    os.close(rw)
    return None


def _place(dir_fd: int, temp: str, name: str, path: Path) -> None:
    """Put ``temp`` at ``name`` (steps 2 and 3 of the module's docstring)."""
    for _ in range(_PLACE_TRIES):
        try:
            old = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            try:
                os.link(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd,
                        follow_symlinks=False)
            except FileExistsError:
                continue
            os.unlink(temp, dir_fd=dir_fd)
            return
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)  # a symlink: replaced
            return
        claim = None
        try:
            st = os.fstat(old)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
            if stat.S_ISREG(st.st_mode):
                claim = _claim(old)
                # Not claimed: a write lock is a daemon's (or a racing start's, which then
                # wins); read locks alone are a user's, ignored: the rename below leaves them
                # on the old inode.
                if claim is None and _daemon_locked(old, st):
                    raise _running(path, _read_pid(old) or 0)
                owner = _identified_owner(old)  # keepalived itself takes no lock
                if owner is not None:
                    raise _running(path, owner)
                now = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    continue  # replaced between our open and our lock
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            return
        finally:
            if claim is not None:
                os.close(claim)  # drops our lock on the stale file, after ours is in place
            os.close(old)
    raise PidFileError(f"pid file {path} keeps changing under us")


def acquire(path: str | os.PathLike[str], pid: int | None = None) -> PidFile:
    """Write ``pid`` (default: ours) to ``path`` and hold its lock; raises PidFileError when
    a daemon runs there already or the file cannot be placed."""
    target = Path(path)
    pid = os.getpid() if pid is None else pid
    try:
        dir_fd = _open_dir(target)
    except OSError as exc:
        raise PidFileError(f"cannot write pid file {path}: {exc.strerror}") from None
    fd = -1
    temp = ""
    try:
        temp, fd = _new_file(dir_fd, target.name, pid)
        _place(dir_fd, temp, target.name, target)
        held = PidFile(target, dir_fd, fd)
        if not held.ours():
            raise PidFileError(f"pid file {path} was replaced while we placed it")
        return held
    except BaseException as exc:
        if temp:
            try:
                os.unlink(temp, dir_fd=dir_fd)
            except OSError:
                pass
        if fd >= 0:
            os.close(fd)
        os.close(dir_fd)
        if isinstance(exc, OSError):
            raise PidFileError(f"cannot write pid file {path}: {exc.strerror or exc}") from None
        raise
