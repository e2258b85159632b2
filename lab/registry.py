"""Lab names and the on-disk record of each lab, so leftovers of a crashed run can be found.

A lab is named ``ahlab<pid>x<hex>``: every namespace it creates starts with that name, and its
host directory ``<base>/<name>/`` holds ``lab.json`` (owner pid and start time, boxes, holder
pids) and each box's persistent ``/mnt/kd``. A lab whose owner process is gone (or whose pid was
recycled: the start time differs) is a leftover; a lab made by ``up`` has no owner and is only
removed by ``down``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

PREFIX = "ahlab"
NAME_RE = re.compile(rf"^{PREFIX}(\d+)x[0-9a-f]{{4}}$")
BASE_DIR_ENV = "ASTLINUX_HA_LAB_DIR"
# Not /tmp or /run: boxes mount their own over those, and the host's must stay untouched.
DEFAULT_BASE_DIR = "/var/tmp/astlinux-ha-lab"


def base_dir() -> Path:
    """Where lab directories live on the host (``$ASTLINUX_HA_LAB_DIR`` overrides)."""
    return Path(os.environ.get(BASE_DIR_ENV, DEFAULT_BASE_DIR))


def new_name() -> str:
    """A lab name no other run on this machine uses: our pid plus a random suffix."""
    return f"{PREFIX}{os.getpid()}x{secrets.token_hex(2)}"


def owner_pid(lab_name: str) -> int | None:
    """The pid embedded in a lab name (None when the name is not a lab name)."""
    match = NAME_RE.match(lab_name)
    return int(match.group(1)) if match else None


def lab_of_netns(netns: str) -> str | None:
    """The lab a namespace name belongs to (``<lab>-<box>``), or None when it is not ours."""
    lab, sep, _ = netns.partition("-")
    return lab if sep and NAME_RE.match(lab) else None


@dataclass
class BoxRecord:
    """What is needed to re-attach to a box from another process (``shell``, ``down``)."""

    address: str
    holder_pid: int


@dataclass
class LabRecord:
    """The contents of ``lab.json``."""

    name: str
    owner_pid: int | None
    owner_start: float | None
    boxes: dict[str, BoxRecord] = field(default_factory=dict)

    @classmethod
    def for_current_process(cls, name: str, persistent: bool) -> LabRecord:
        """A record owned by this process, or by nobody when ``persistent``."""
        if persistent:
            return cls(name, None, None)
        return cls(name, os.getpid(), psutil.Process().create_time())

    def save(self, directory: Path) -> None:
        """Write ``lab.json`` atomically."""
        tmp = directory / "lab.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(directory / "lab.json")

    @classmethod
    def load(cls, directory: Path) -> LabRecord:
        """Read ``lab.json``; raises FileNotFoundError when there is none."""
        raw = json.loads((directory / "lab.json").read_text())
        boxes = {name: BoxRecord(**box) for name, box in raw.pop("boxes").items()}
        return cls(boxes=boxes, **raw)

    def owner_alive(self) -> bool:
        """True when the owning process still runs (persistent labs count as alive)."""
        if self.owner_pid is None:
            return True
        return process_started_at(self.owner_pid, self.owner_start)


def process_started_at(pid: int, start: float | None) -> bool:
    """True when ``pid`` runs and (if ``start`` is given) is the process that started then."""
    try:
        proc = psutil.Process(pid)
        return start is None or abs(proc.create_time() - start) < 0.5
    except psutil.NoSuchProcess:
        return False
