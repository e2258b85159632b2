import os
import subprocess
import sys

import pytest

from astlinux_ha import pidfile


def test_stale_file_is_removed(tmp_path):
    path = tmp_path / "keepalived.pid"
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    path.write_text(f"{proc.pid}\n")  # that process is gone
    pidfile.check(path)
    assert not path.exists()


def test_garbage_file_is_stale(tmp_path):
    path = tmp_path / "keepalived.pid"
    path.write_text("not a pid\n")
    pidfile.check(path)
    assert not path.exists()


def test_live_daemon_refuses(tmp_path):
    path = tmp_path / "keepalived.pid"
    # Any process whose command line names the daemon counts as live.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "astlinux-ha"]
    )
    try:
        path.write_text(f"{proc.pid}\n")
        with pytest.raises(pidfile.PidFileError, match=str(proc.pid)):
            pidfile.check(path)
        assert path.exists()
    finally:
        proc.kill()
        proc.wait()


def test_recycled_pid_of_other_program_is_stale(tmp_path):
    path = tmp_path / "keepalived.pid"
    proc = subprocess.Popen(["sleep", "30"])
    try:
        path.write_text(f"{proc.pid}\n")
        pidfile.check(path)
        assert not path.exists()
    finally:
        proc.kill()
        proc.wait()


def test_write_and_remove(tmp_path):
    path = tmp_path / "run" / "keepalived.pid"
    pidfile.write(path)
    assert path.read_text() == f"{os.getpid()}\n"
    pidfile.remove(path)
    assert not path.exists()


def test_remove_leaves_successors_file(tmp_path):
    path = tmp_path / "keepalived.pid"
    path.write_text("1\n")
    pidfile.remove(path)
    assert path.exists()
