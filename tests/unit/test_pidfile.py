import errno
import fcntl
import os
import pwd
import select
import signal
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from astlinux_ha import pidfile
from astlinux_ha.pidfile import ProcessIdentity, is_vrrp_daemon


def started(argv, **kwargs) -> subprocess.Popen:
    """Popen ``argv`` and wait until its exec shows in /proc (cmdline is empty before)."""
    proc = subprocess.Popen(argv, **kwargs)
    deadline = time.monotonic() + 10
    while pidfile.identity(proc.pid) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc


def ident(*argv: str, exe: str = "python3.11", uid: int = 0) -> ProcessIdentity:
    return ProcessIdentity(tuple(argv), exe, uid, uid)


@pytest.mark.parametrize("proc", [
    ident("/usr/local/lib/astlinux-ha/bin/python", "-m", "astlinux_ha", "-f", "x"),
    ident("python3", "-m", "astlinux_ha"),
    ident("/work/main/.venv/bin/python", "/work/main/.venv/bin/astlinux-ha", "-n"),
    ident("/usr/sbin/keepalived", "-f", "/etc/keepalived/keepalived.conf", exe="keepalived"),
    ident("keepalived", exe="keepalived"),
])
def test_daemons_are_recognised(proc):
    assert is_vrrp_daemon(proc)


@pytest.mark.parametrize("proc", [
    # The audit's case: an editor on the config inherited a recycled pid.
    ident("vi", "/etc/keepalived/keepalived.conf", exe="vi"),
    ident("vi /etc/keepalived/keepalived.conf", exe="sleep"),  # exec -a "vi ..." sleep
    ident("keepalived", exe="sleep"),  # exec -a keepalived sleep: the kernel knows better
    ident("/usr/sbin/keepalived", exe="sh"),
    ident("sh", "-c", "astlinux_ha keepalived", exe="sh"),
    ident("python3", "-c", "import time", "astlinux-ha"),
    ident("python3", "/usr/bin/astlinux-ha-helper"),
    ident("python3", "-m", "lab"),
    ident("less", "/usr/local/sbin/astlinux-ha", exe="less"),
    ident("sleep", "-m", "astlinux_ha", exe="python3"),  # argv[0] is no interpreter
    ident("python3", "-m", "astlinux_ha", uid=1000),  # an unprivileged user's copy
    ident(exe="keepalived"),
])
def test_other_programs_are_not(proc):
    assert not is_vrrp_daemon(proc)


def test_our_own_uid_counts_for_unprivileged_tests():
    assert is_vrrp_daemon(ident("python3", "-m", "astlinux_ha", uid=1000), our_uid=1000)
    assert not is_vrrp_daemon(ident("python3", "-m", "astlinux_ha", uid=1000), our_uid=1001)


def test_identity_of_a_live_process_and_of_a_gone_one():
    proc = started(["sleep", "30"])
    try:
        me = pidfile.identity(proc.pid)
        assert me is not None and me.argv == ("sleep", "30") and me.exe == "sleep"
        assert me.real_uid == os.getuid()
    finally:
        proc.kill()
        proc.wait()
    assert pidfile.identity(proc.pid) is None


def test_stale_file_does_not_stop_a_start_and_is_replaced(tmp_path):
    path = tmp_path / "keepalived.pid"
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    path.write_text(f"{proc.pid}\n")  # that process is gone
    pidfile.check(path)
    held = pidfile.acquire(path)
    try:
        assert path.read_text() == f"{os.getpid()}\n"
    finally:
        held.release()
    assert not path.exists()


def test_garbage_file_is_stale(tmp_path):
    path = tmp_path / "keepalived.pid"
    path.write_text("not a pid\n")
    pidfile.check(path)
    pidfile.acquire(path).release()


def test_live_daemon_by_identity_refuses(tmp_path):
    path = tmp_path / "keepalived.pid"
    # A daemon that takes no lock (keepalived itself, an older one of ours): known by its
    # executable and argv. This one is an interpreter running a script named astlinux-ha.
    script = tmp_path / "astlinux-ha"
    script.write_text("import time\ntime.sleep(30)\n")
    proc = started([sys.executable, str(script), "-f", "/etc/keepalived/keepalived.conf"])
    try:
        path.write_text(f"{proc.pid}\n")
        with pytest.raises(pidfile.PidFileError, match=str(proc.pid)):
            pidfile.check(path)
        with pytest.raises(pidfile.PidFileError, match=str(proc.pid)):
            pidfile.acquire(path)
        assert path.read_text() == f"{proc.pid}\n"
    finally:
        proc.kill()
        proc.wait()


def test_command_line_mentioning_the_daemon_is_not_one(tmp_path):
    path = tmp_path / "keepalived.pid"
    proc = started(
        [sys.executable, "-c", "import time; time.sleep(30)", "astlinux-ha", "keepalived"])
    try:
        path.write_text(f"{proc.pid}\n")
        pidfile.check(path)
        assert pidfile.live_owner(path) is None
    finally:
        proc.kill()
        proc.wait()


def test_lock_held_means_running_whatever_the_file_says(tmp_path):
    path = tmp_path / "keepalived.pid"
    first = pidfile.acquire(path, pid=1)  # names pid 1, but the lock is what counts
    try:
        assert pidfile.live_owner(path) == 1
        with pytest.raises(pidfile.PidFileError, match="already running with pid 1"):
            pidfile.check(path)
        with pytest.raises(pidfile.PidFileError, match="already running"):
            pidfile.acquire(path)
        assert path.read_text() == "1\n" and first.ours()
    finally:
        first.release()
    assert not path.exists()
    assert pidfile.live_owner(path) is None


def test_the_lock_dies_with_its_holder(tmp_path):
    path = tmp_path / "keepalived.pid"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from astlinux_ha import pidfile; "
         "h = pidfile.acquire(sys.argv[1]); print('held', flush=True); time.sleep(60)",
         str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(pidfile.PidFileError, match=str(holder.pid)):
            pidfile.acquire(path)
    finally:
        holder.kill()  # kill -9: no cleanup, the file stays
        holder.wait()
    assert path.read_text() == f"{holder.pid}\n"
    pidfile.acquire(path).release()


def test_written_0644_whatever_the_umask(tmp_path):
    path = tmp_path / "keepalived.pid"
    for mask in (0o000, 0o177, 0o777):
        old = os.umask(mask)
        try:
            held = pidfile.acquire(path)
        finally:
            os.umask(old)
        try:
            assert stat.S_IMODE(path.stat().st_mode) == 0o644
        finally:
            held.release()


def test_no_temporary_files_left_behind(tmp_path):
    path = tmp_path / "keepalived.pid"
    path.write_text("garbage\n")
    held = pidfile.acquire(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keepalived.pid"]
    held.release()
    assert list(tmp_path.iterdir()) == []


def test_a_planted_symlink_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o600)
    path = tmp_path / "keepalived.pid"
    path.symlink_to(victim)
    assert pidfile.live_owner(path) is None
    pidfile.check(path)
    held = pidfile.acquire(path)
    try:
        assert not path.is_symlink() and path.read_text() == f"{os.getpid()}\n"
        assert victim.read_text() == "precious\n"
        assert stat.S_IMODE(victim.stat().st_mode) == 0o600
    finally:
        held.release()


def test_a_planted_fifo_is_replaced_without_blocking(tmp_path):
    path = tmp_path / "keepalived.pid"
    os.mkfifo(path)
    pidfile.check(path)
    held = pidfile.acquire(path)
    try:
        assert stat.S_ISREG(path.lstat().st_mode)
    finally:
        held.release()


def test_a_hard_link_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "keepalived.pid"
    os.link(victim, path)
    pidfile.acquire(path).release()
    assert victim.read_text() == "precious\n"


def test_a_directory_at_the_path_is_an_error(tmp_path):
    (tmp_path / "keepalived.pid").mkdir()
    with pytest.raises(pidfile.PidFileError, match="cannot write"):
        pidfile.acquire(tmp_path / "keepalived.pid")


def test_missing_directory_is_refused_by_check(tmp_path):
    with pytest.raises(pidfile.PidFileError, match="cannot write pid file"):
        pidfile.check(tmp_path / "run" / "keepalived.pid")


def test_release_leaves_a_successors_file(tmp_path):
    path = tmp_path / "keepalived.pid"
    held = pidfile.acquire(path)
    os.unlink(path)
    path.write_text("1\n")  # a successor's, placed after ours was removed
    held.release()
    assert path.read_text() == "1\n"


def test_lock_is_an_ofd_write_lock_not_dropped_by_closing_another_descriptor(tmp_path):
    # Was test_lock_is_an_flock_...: the lock is no longer an flock (any user can hold one on
    # a 0644 file), but the point stands: it belongs to the open file description.
    path = tmp_path / "keepalived.pid"
    held = pidfile.acquire(path)
    try:
        with open(path, "rb"):
            pass  # closing this would drop a POSIX (fcntl/lockf) lock
        fd = os.open(path, os.O_RDONLY)
        try:
            got = fcntl.fcntl(fd, pidfile.F_OFD_GETLK, pidfile.flock_struct(fcntl.F_RDLCK))
            kind, _whence, start, length, holder = struct.unpack("@hhqqi", got[:28])
            # Whole file, and an OFD lock names no process: identity comes from the pid.
            assert (kind, start, length, holder) == (fcntl.F_WRLCK, 0, 0, -1)
            with pytest.raises(BlockingIOError):
                fcntl.fcntl(fd, pidfile.F_OFD_SETLK, pidfile.flock_struct(fcntl.F_RDLCK))
        finally:
            os.close(fd)
        assert pidfile.live_owner(path) == os.getpid()  # another description: it sees ours
    finally:
        held.release()


def test_the_temporary_file_is_unreadable_to_others_until_it_is_locked(tmp_path, monkeypatch):
    modes = []
    lock = pidfile._write_lock

    def spy(fd):
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return lock(fd)

    monkeypatch.setattr(pidfile, "_write_lock", spy)
    old = os.umask(0)
    try:
        held = pidfile.acquire(tmp_path / "keepalived.pid")
    finally:
        os.umask(old)
    try:
        assert modes == [0o600]
        assert stat.S_IMODE((tmp_path / "keepalived.pid").stat().st_mode) == 0o644
    finally:
        held.release()


def test_a_write_lock_on_a_stale_file_of_ours_counts_as_a_racing_start(tmp_path):
    # What a daemon replacing the same stale file holds for that moment: we lose to it.
    path = tmp_path / "keepalived.pid"
    path.write_text("garbage\n")
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.fcntl(fd, pidfile.F_OFD_SETLK, pidfile.flock_struct(fcntl.F_WRLCK))
        with pytest.raises(pidfile.PidFileError, match="already running"):
            pidfile.acquire(path)
        assert path.read_text() == "garbage\n"
    finally:
        os.close(fd)
    pidfile.acquire(path).release()


# The review's attack: a local user, who can open the 0644 pid file read-only and nothing more,
# holds a lock on it. Each attacker is a forked child that drops to user nobody and opens the
# file itself, through a 0755 directory as /var/run is; it reports on a pipe once it holds
# its lock (or, for a blocking one, once it waits and again once it got it).
NOBODY = pwd.getpwnam("nobody")


def _flock_sh(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)


def _flock_ex(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # flock needs no write access


def _ofd_read(fd: int) -> None:
    fcntl.fcntl(fd, pidfile.F_OFD_SETLK, pidfile.flock_struct(fcntl.F_RDLCK))


def _posix_read(fd: int) -> None:
    fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # F_SETLK F_RDLCK, the process's own


USER_LOCKS = {"flock-sh": _flock_sh, "flock-ex": _flock_ex, "ofd-read": _ofd_read,
              "posix-read": _posix_read}
# Waiting on a running daemon's file, to own a lock on it once the daemon dies uncleanly.
USER_WAITS = {
    "flock-ex": lambda fd: fcntl.flock(fd, fcntl.LOCK_EX),
    "ofd-read": lambda fd: fcntl.fcntl(fd, pidfile.F_OFD_SETLKW,
                                       pidfile.flock_struct(fcntl.F_RDLCK)),
    "posix-read": lambda fd: fcntl.lockf(fd, fcntl.LOCK_SH),
}


@pytest.fixture
def run_dir(tmp_path):
    """A root-owned 0755 directory, as /var/run: nobody can read its files, not write there."""
    run = tmp_path / "run"
    run.mkdir()
    run.chmod(0o755)
    return run


class Attacker:
    """A forked child running ``action(fd)`` as user nobody on ``path`` opened read-only by
    itself (``flags`` to open otherwise), then sleeping with what it holds until killed."""

    def __init__(self, path, action, flags: int = os.O_RDONLY) -> None:
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns into pytest
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(NOBODY.pw_gid)
                os.setuid(NOBODY.pw_uid)
                fd = os.open(path.name, flags, dir_fd=dir_fd)
                os.write(write_end, b"opened\n")
                action(fd)
                os.write(write_end, b"holding\n")
                time.sleep(120)
            except BaseException as exc:  # noqa: BLE001 - reported to the test, not raised
                os.write(write_end, f"{type(exc).__name__} {getattr(exc, 'errno', '')}\n"
                         .encode())
            finally:
                os._exit(0)
        os.close(dir_fd)
        os.close(write_end)
        self._out, self._buf = read_end, b""

    def line(self, timeout: float = 10) -> str:
        """The child's next line; a failed assertion when it says nothing in ``timeout``."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            assert self.quiet(deadline - time.monotonic()) is False, "the attacker said nothing"
            more = os.read(self._out, 256)
            assert more, "the attacker exited"
            self._buf += more
        text, self._buf = self._buf.split(b"\n", 1)
        return text.decode()

    def quiet(self, seconds: float) -> bool:
        """True when the child writes nothing (more) for ``seconds``."""
        return not self._buf and not select.select([self._out], [], [], max(seconds, 0))[0]

    def stop(self) -> None:
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            os.close(self._out)
            self.pid = 0


def stale_file(run) -> Path:
    """The file a daemon killed with -9 leaves: root's, 0644, naming a pid that is gone."""
    path = run / "keepalived.pid"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    path.write_text(f"{gone.pid}\n")
    path.chmod(0o644)
    return path


def assert_started_despite(path, attacker: Attacker) -> None:
    """What the daemon does: check() before detaching, acquire() after; both must pass."""
    assert pidfile.live_owner(path) is None
    pidfile.check(path)
    held = pidfile.acquire(path)
    try:
        assert path.read_text() == f"{os.getpid()}\n" and held.ours()
        # A second daemon now refuses: ours is the write lock, the user's lock changed nothing.
        assert pidfile.live_owner(path) == os.getpid()
        with pytest.raises(pidfile.PidFileError, match="already running"):
            pidfile.acquire(path)
    finally:
        held.release()
    attacker.stop()


@pytest.mark.root
@pytest.mark.parametrize("lock", sorted(USER_LOCKS))
def test_a_users_lock_on_a_stale_file_neither_blocks_a_start_nor_fakes_a_daemon(run_dir, lock):
    path = stale_file(run_dir)
    attacker = Attacker(path, USER_LOCKS[lock])
    try:
        assert (attacker.line(), attacker.line()) == ("opened", "holding")
        assert_started_despite(path, attacker)
    finally:
        attacker.stop()


@pytest.mark.root
@pytest.mark.parametrize("wait", sorted(USER_WAITS))
def test_a_user_waiting_on_the_daemons_file_gets_only_a_stale_file(run_dir, wait):
    # The review's way to a stale file with a user's lock on it: wait on the live daemon's
    # file, get the lock when the daemon is killed with -9.
    path = run_dir / "keepalived.pid"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from astlinux_ha import pidfile; "
         "h = pidfile.acquire(sys.argv[1]); print('held', flush=True); time.sleep(60)",
         str(path)], stdout=subprocess.PIPE, text=True)
    attacker = None
    try:
        assert holder.stdout.readline() == "held\n"
        attacker = Attacker(path, USER_WAITS[wait])
        assert attacker.line() == "opened"
        if wait != "flock-ex":  # a read lock waits for the daemon's write lock to go
            assert attacker.quiet(0.3)
        assert pidfile.live_owner(path) == holder.pid  # still the daemon, whatever it holds
        holder.kill()
        holder.wait()
        assert attacker.line() == "holding"
        assert path.read_text() == f"{holder.pid}\n"
        assert_started_despite(path, attacker)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if attacker is not None:
            attacker.stop()


@pytest.mark.root
@pytest.mark.parametrize("attempt", ["open-for-writing", "ofd-write-lock", "posix-write-lock"])
def test_a_user_cannot_take_a_write_lock_on_roots_pid_file(run_dir, attempt):
    path = stale_file(run_dir)
    flags, action = {
        "open-for-writing": (os.O_RDWR, lambda fd: None),
        "ofd-write-lock": (os.O_RDONLY, lambda fd: fcntl.fcntl(
            fd, pidfile.F_OFD_SETLK, pidfile.flock_struct(fcntl.F_WRLCK))),
        "posix-write-lock": (os.O_RDONLY, lambda fd: fcntl.lockf(fd, fcntl.LOCK_EX)),
    }[attempt]
    attacker = Attacker(path, action, flags)
    try:
        if attempt == "open-for-writing":
            assert attacker.line() == f"PermissionError {errno.EACCES}"
        else:  # F_WRLCK on a descriptor not open for writing
            assert (attacker.line(), attacker.line()) == ("opened", f"OSError {errno.EBADF}")
        assert pidfile.live_owner(path) is None
    finally:
        attacker.stop()


@pytest.mark.root
def test_a_users_write_lock_on_a_file_others_can_write_is_no_daemon(run_dir):
    # Not a file of ours as we write it, but if one were world-writable, a write lock on it
    # proves nothing: only a file that nobody else can open for writing is judged by its lock.
    path = stale_file(run_dir)
    path.chmod(0o666)
    attacker = Attacker(path, lambda fd: fcntl.fcntl(
        fd, pidfile.F_OFD_SETLK, pidfile.flock_struct(fcntl.F_WRLCK)), os.O_RDWR)
    try:
        assert (attacker.line(), attacker.line()) == ("opened", "holding")
        assert_started_despite(path, attacker)
    finally:
        attacker.stop()
