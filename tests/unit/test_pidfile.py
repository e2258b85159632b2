import fcntl
import os
import stat
import subprocess
import sys
import time

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
    ident("python3", "-m", "astlinux_ha.lab"),
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


def test_lock_is_an_flock_not_dropped_by_closing_another_descriptor(tmp_path):
    path = tmp_path / "keepalived.pid"
    held = pidfile.acquire(path)
    try:
        with open(path, "rb"):
            pass  # closing this would drop a POSIX (fcntl/lockf) lock
        fd = os.open(path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    finally:
        held.release()
