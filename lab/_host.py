"""Host-side helpers: running tools, and finding/killing the processes inside a namespace.

Everything the lab starts lives in a network namespace it created, so "which processes belong to
this box" is answered by the kernel (the inode of /proc/PID/ns/net), never by a process name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence

NETNS_DIR = "/run/netns"


class LabError(RuntimeError):
    """A lab operation failed; the message says which command and why."""


def sh(argv: Sequence[str], *, check: bool = True, timeout: float = 30.0,
       input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a host command, capture text output; raise LabError with its stderr when it fails."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              input=input, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc


def netns_inode(name: str) -> int | None:
    """The inode identifying named network namespace ``name``, or None when it does not exist."""
    try:
        return os.stat(os.path.join(NETNS_DIR, name)).st_ino
    except FileNotFoundError:
        return None


def pids_in_netns(inode: int) -> list[int]:
    """Pids of every process whose network namespace is ``inode``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                found.append(int(entry))
        except OSError:  # gone, or a zombie (no namespaces left)
            continue
    found = [p for p in found if p != os.getpid()]
    return found


def kill_netns_members(inode: int, grace: float = 2.0) -> None:
    """SIGTERM every process in the namespace, then SIGKILL whatever is left after ``grace``.

    SIGTERM first so daemons can withdraw (keepalived sends priority 0); the SIGKILL round makes
    sure nothing keeps the namespace (and its veths) alive after teardown.
    """
    pids = pids_in_netns(inode)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        _reap(pids)
        pids = pids_in_netns(inode)
    for pid in pids_in_netns(inode):
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while pids_in_netns(inode) and time.monotonic() < deadline:
        _reap(pids)
        time.sleep(0.02)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pids: Sequence[int]) -> None:
    """Collect our own children among ``pids`` so they do not linger as zombies."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
