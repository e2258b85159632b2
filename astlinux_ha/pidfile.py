"""The daemon's pid file: refuse to start over a live daemon, replace a stale file.

Checked before detaching, so the init script sees a non-zero exit when another daemon runs;
written after detaching, when the final pid is known.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil


class PidFileError(Exception):
    """Another daemon holds the pid file."""


def live_owner(path: str | os.PathLike[str]) -> int | None:
    """The pid recorded in ``path`` if that process is alive and is a VRRP daemon, else None."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
        pid = int(text)
    except (OSError, ValueError):
        return None
    if pid == os.getpid():
        return None
    try:
        proc = psutil.Process(pid)
        cmdline = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    # A recycled pid that now belongs to some other program makes the file stale.
    if "astlinux" in cmdline or "keepalived" in cmdline:
        return pid
    return None


def check(path: str | os.PathLike[str]) -> None:
    """Raise PidFileError if a live daemon owns ``path``; remove the file if it is stale."""
    pid = live_owner(path)
    if pid is not None:
        raise PidFileError(f"daemon already running with pid {pid} (pid file {path})")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write(path: str | os.PathLike[str]) -> None:
    """Atomically record our pid in ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    tmp.write_text(f"{os.getpid()}\n", encoding="ascii")
    os.replace(tmp, target)


def remove(path: str | os.PathLike[str]) -> None:
    """Remove ``path`` if it still names us (a successor may have replaced it)."""
    try:
        if Path(path).read_text(encoding="ascii").strip() == str(os.getpid()):
            os.unlink(path)
    except (OSError, ValueError):
        pass
