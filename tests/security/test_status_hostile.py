"""Attacks on ``astlinux-ha --status`` (what ``service keepalived status`` prints), run as root.

The state dir is shared with the user's scripts, so whoever can write there controls what
status.json holds. Each test plants a hostile file and runs the real command line in a
subprocess, as the init script does: what an admin's terminal receives must be escaped text,
and what is not a plain, reasonably sized regular file is refused with one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.root]

ESC = "\x1b"


def status_cmd(state_dir, timeout: float = 20) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "astlinux_ha", "--status",
                           "--state-dir", str(state_dir)],
                          capture_output=True, timeout=timeout, check=False)


def one_line_refusal(proc: subprocess.CompletedProcess[bytes], why: str) -> None:
    assert proc.returncode == 3, proc
    assert proc.stdout == b""
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("astlinux-ha: cannot read "), err
    assert why in err, err


def test_escape_sequences_in_names_and_vips_reach_the_terminal_escaped(tmp_path):
    # Clear the screen, set the window title, and a fake second row after a newline.
    name = f"VI_1{ESC}[2J{ESC}]0;pwned\x07\nVI_X  MASTER  255"
    (tmp_path / "status.json").write_text(json.dumps({"instances": {name: {
        "state": f"BACKUP{ESC}[8m", "priority": 100, "effective_priority": 100,
        "vips": [f"10.10.50.244\r{ESC}[K"], "master": "10.10.50.62", "since": "x"}}}))
    proc = status_cmd(tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert ESC not in out and "\r" not in out and "\x07" not in out
    lines = out.splitlines()
    assert len(lines) == 2  # the header and one row: no forged row
    assert "VI_1\\x1b[2J\\x1b]0;pwned\\x07\\nVI_X  MASTER  255" in lines[1]
    assert "10.10.50.244\\r\\x1b[K" in lines[1]


def test_a_symlink_to_etc_shadow_is_not_followed(tmp_path):
    (tmp_path / "status.json").symlink_to("/etc/shadow")
    proc = status_cmd(tmp_path)
    one_line_refusal(proc, "symbolic link")
    assert b"root:" not in proc.stdout + proc.stderr


def test_a_symlink_to_a_root_only_file_does_not_print_it(tmp_path):
    # Followed, a link to a root-only JSON file would show its strings in the table.
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"instances": {"TOPSECRET": {}}}))
    secret.chmod(0o600)
    state = tmp_path / "state"
    state.mkdir()
    (state / "status.json").symlink_to(secret)
    proc = status_cmd(state)
    one_line_refusal(proc, "symbolic link")
    assert b"TOPSECRET" not in proc.stdout + proc.stderr


def test_a_fifo_is_refused_at_once(tmp_path):
    # Nobody ever writes into it: a plain open() would wait for a writer forever.
    os.mkfifo(tmp_path / "status.json")
    one_line_refusal(status_cmd(tmp_path, timeout=20), "not a regular file")


def test_a_huge_status_file_is_refused(tmp_path):
    # Valid JSON, 5 MiB: read whole, it would be parsed and printed.
    pad = "x" * (5 * 1024 * 1024)
    (tmp_path / "status.json").write_text(json.dumps({"instances": {}, "pad": pad}))
    one_line_refusal(status_cmd(tmp_path), "larger than 4194304 bytes")
