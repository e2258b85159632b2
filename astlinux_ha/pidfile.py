"""The daemon's pid file: one daemon at a time, a stale file replaced, nothing planted followed.

"A daemon runs" means: some process holds an flock on the file at the pid file's path (the
daemon takes it before the file is visible and keeps the descriptor for its whole life; the
kernel drops it when the daemon dies, even by kill -9), or the pid recorded there is a live
process that is a VRRP daemon by its identity (:func:`is_vrrp_daemon`: root's, and its
executable and argv[0..2] are keepalived's or ours), which covers keepalived itself and an
older daemon that took no lock. A pid that merely has "keepalived" somewhere in its command
line (a root ``vi /etc/keepalived/keepalived.conf`` that inherited a stale pid) is not one.

Why flock and not fcntl/lockf: an flock belongs to the open file description, so closing some
other descriptor of the same file does not drop it (POSIX record locks do), and O_CLOEXEC keeps
it out of scripts. The lock is taken after detaching, when the final pid is known; :func:`check`
runs before, so the init script still sees a non-zero exit in the usual case, and two daemons
started at the same instant are still told apart by the lock (the loser logs and exits).

How the file is placed, so that no moment shows a half-written or unlocked file and nothing
planted at the path is ever opened for writing or followed:
1. our pid goes into a new file under a random name in the same directory (O_CREAT|O_EXCL|
   O_NOFOLLOW: a planted name makes the open fail instead of being followed), mode 0644 set
   with fchmod (the umask does not decide), already flock'ed;
2. nothing at the path: link() it there (atomic, fails if someone else was faster: look again);
   a regular file: take its flock first (held: a daemon runs; refused), check the path still
   names that same inode (else it was replaced meanwhile: look again), then rename() ours over
   it, so a daemon racing us for the same stale file waits on its lock and then sees the path
   changed; a symlink, FIFO or other non-file (never a daemon's): rename() ours over it, which
   replaces the entry and never touches what a symlink points to;
3. the path is checked to name our inode.
The directory is resolved once (a descriptor, *at calls), so a parent swapped meanwhile cannot
split the steps. What remains: two daemons starting in the same microseconds while a non-file
sits at the path could both rename; the check in step 3 catches the earlier one in all but a
sub-microsecond window, and /var/run is root's alone anyway.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

MODE = 0o644
# The names a VRRP daemon's program has: keepalived's binary, our entry script.
DAEMON_PROGRAMS = frozenset({"keepalived", "astlinux-ha"})
_PYTHON = re.compile(r"python[0-9.]*")
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_PLACE_TRIES = 16
_MAX_PID_BYTES = 64


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
    """``pid``'s identity from /proc, or None when it is gone, a zombie or unreadable."""
    base = f"/proc/{pid}"
    try:
        with open(f"{base}/cmdline", "rb") as fh:
            raw = fh.read()
        exe = os.readlink(f"{base}/exe")
        with open(f"{base}/status", encoding="ascii", errors="replace") as fh:
            status = fh.read()
    except OSError:
        return None
    uids = re.search(r"(?m)^Uid:\s+(\d+)\s+(\d+)", status)
    if not raw or uids is None:  # a zombie has an empty command line
        return None
    argv = tuple(a.decode(errors="replace") for a in raw.split(b"\0")[:-1] or [raw])
    exe = os.path.basename(exe.removesuffix(" (deleted)"))
    return ProcessIdentity(argv, exe, int(uids.group(1)), int(uids.group(2)))


def _open_dir(path: Path) -> int:
    # The parent is followed (/var/run is a link to /run on most systems); the file is not.
    return os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _read_pid(fd: int) -> int | None:
    data = os.pread(fd, _MAX_PID_BYTES, 0)
    text = data.decode("ascii", errors="replace").strip()
    return int(text) if text.isdigit() else None


def _locked(fd: int) -> bool:
    """True when another open file description holds an flock on ``fd``'s file."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


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
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return None
    if _locked(fd):
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
            os.close(self._fd)
            os.close(self._dir_fd)
            self._fd = self._dir_fd = -1


def _new_file(dir_fd: int, name: str, pid: int) -> tuple[str, int]:
    for _ in range(_PLACE_TRIES):
        temp = f".{name}.{secrets.token_hex(8)}"
        try:
            fd = os.open(temp, _NEW_FLAGS, MODE, dir_fd=dir_fd)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, MODE)
            os.write(fd, f"{pid}\n".encode("ascii"))
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh inode: never held
        except BaseException:
            os.close(fd)
            os.unlink(temp, dir_fd=dir_fd)
            raise
        return temp, fd
    raise FileExistsError(errno.EEXIST, "no free temporary name", name)


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
        try:
            st = os.fstat(old)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
            if stat.S_ISREG(st.st_mode):
                try:
                    fcntl.flock(old, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise _running(path, _read_pid(old) or 0) from None
                owner = _identified_owner(old)  # keepalived itself takes no lock
                if owner is not None:
                    raise _running(path, owner)
                now = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    continue  # replaced between our open and our lock
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            return
        finally:
            os.close(old)  # drops the stale file's lock, after ours is in place
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
