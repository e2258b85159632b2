"""The Lab: a switch and the boxes cabled to it, created and always torn down together."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from . import registry
from ._host import LabError, kill_netns_members, netns_inode, sh
from .box import Box
from .capture import VRRP_FILTER, Capture
from .pinger import Pinger
from .switch import Switch

SEED_BOXES = (("master", "10.10.50.62/24"), ("backup", "10.10.50.65/24"),
              ("client", "10.10.50.10/24"))
_BOX_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")  # the switch port p<name> must fit IFNAMSIZ


class Lab:
    """A virtual switch plus boxes. Use as a context manager; :meth:`close` removes everything.

    ``persistent`` labs (``python -m lab up``) have no owner process, so sweep()
    leaves them alone and only ``down`` removes them.
    """

    def __init__(self, name: str | None = None, *, persistent: bool = False,
                 base_dir: Path | None = None) -> None:
        self.name = name or registry.new_name()
        self.dir = (base_dir or registry.base_dir()) / self.name
        self.switch = Switch(f"{self.name}-sw")
        self.boxes: dict[str, Box] = {}
        self._captures: list[Capture] = []
        self._record = registry.LabRecord.for_current_process(self.name, persistent)
        self._closed = False
        self.dir.mkdir(parents=True, exist_ok=False)
        self._record.save(self.dir)
        try:
            self.switch.create()
        except BaseException:
            self.close()
            raise

    @classmethod
    def attach(cls, name: str, base_dir: Path | None = None) -> Lab:
        """Re-open a running lab from its ``lab.json`` (for ``shell`` and ``down``)."""
        lab = cls.__new__(cls)
        lab.name = name
        lab.dir = (base_dir or registry.base_dir()) / name
        lab._record = registry.LabRecord.load(lab.dir)
        lab.switch = Switch(f"{name}-sw")
        lab._captures = []
        lab._closed = False
        lab.boxes = {
            box_name: Box(name, box_name, rec.address, lab.dir / box_name, lab.switch.netns,
                          rec.holder_pid)
            for box_name, rec in lab._record.boxes.items()
        }
        return lab

    # -- building -----------------------------------------------------------------------------

    def add_box(self, name: str, address: str = "10.10.50.62/24", *,
                image: Path | None = None) -> Box:
        """A new box ``name`` with ``address`` (CIDR) on ``eth0``, booted and cabled.

        ``image``: a directory whose ``etc`` and ``usr/local`` the box sees over the host's (a
        ``make install DESTDIR=`` tree), kept across reboots like AstLinux's read-only image.
        """
        if not _BOX_NAME.match(name):
            raise ValueError(f"box name {name!r}: lower-case letters and digits, at most 12")
        if name in self.boxes:
            raise ValueError(f"box {name!r} already exists")
        box = Box(self.name, name, address, self.dir / name, self.switch.netns,
                  image_dir=image)
        self.boxes[name] = box
        box.create_network()
        box.boot()
        self._remember(box)
        return box

    def add_seed_boxes(self) -> tuple[Box, Box, Box]:
        """The seed's master (10.10.50.62), backup (10.10.50.65) and LAN client (10.10.50.10)."""
        made = [self.boxes.get(name) or self.add_box(name, addr) for name, addr in SEED_BOXES]
        return made[0], made[1], made[2]

    def box(self, name: str) -> Box:
        """The box called ``name``."""
        try:
            return self.boxes[name]
        except KeyError:
            raise LabError(f"no box {name!r} in lab {self.name}") from None

    def reboot(self, box: Box) -> None:
        """Power-cycle ``box`` (see :meth:`Box.reboot`) and record its new holder."""
        box.reboot()
        self._remember(box)

    def _remember(self, box: Box) -> None:
        assert box.holder_pid is not None
        self._record.boxes[box.name] = registry.BoxRecord(box.address, box.holder_pid)
        self._record.save(self.dir)

    # -- the wire -----------------------------------------------------------------------------

    def block_vrrp(self, a: Box, b: Box) -> None:
        """Drop VRRP (IP protocol 112, and 51 for AH) between boxes ``a`` and ``b``."""
        self.switch.block_vrrp(a.port, b.port)

    def unblock_vrrp(self, a: Box, b: Box) -> None:
        """Let VRRP between ``a`` and ``b`` through again."""
        self.switch.unblock_vrrp(a.port, b.port)

    def capture(self, bpf: str = VRRP_FILTER) -> Capture:
        """Start capturing on the switch (VRRP by default); stopped at teardown at the latest."""
        cap = Capture(self.switch.netns, self.dir / f"capture{len(self._captures)}.pcap", bpf)
        self._captures.append(cap)
        return cap

    def pinger(self, client: Box, target: str, interval: float = 0.01) -> Pinger:
        """Ping ``target`` from ``client`` every ``interval`` seconds (see Pinger)."""
        return Pinger(client, target, interval)

    def holders(self, ip: str) -> list[str]:
        """Names of the boxes that currently have address ``ip``, in the order they were added."""
        return [name for name, box in self.boxes.items() if box.holds(ip)]

    def wait_for_holders(self, ip: str, expected: list[str], timeout: float) -> float:
        """Poll until exactly ``expected`` hold ``ip``; the seconds it took. LabError on timeout."""
        start = time.monotonic()
        deadline = start + timeout
        while True:
            now = self.holders(ip)
            if sorted(now) == sorted(expected):
                return time.monotonic() - start
            if time.monotonic() >= deadline:
                raise LabError(f"{ip}: held by {now or 'nobody'} after {timeout}s, "
                               f"expected {expected or 'nobody'}")
            time.sleep(0.02)

    # -- teardown -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every process, delete every namespace (their veths go with them), remove the
        lab's host directory. Safe to call twice and after a partial setup."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for cap in self._captures:
            cap.stop()
        for box in self.boxes.values():
            try:
                box.close()
            except Exception as exc:  # keep tearing down the rest
                errors.append(f"{box.name}: {exc}")
        remove_lab_namespaces(self.name)
        shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise LabError("teardown: " + "; ".join(errors))

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Lab({self.name!r}, boxes={list(self.boxes)})"


def lab_namespaces(lab_name: str) -> list[str]:
    """The named network namespaces belonging to ``lab_name``."""
    try:
        names = sh(["ip", "netns", "list"]).stdout.split("\n")
    except LabError:
        return []
    found = [line.split()[0] for line in names if line.strip()]
    return [ns for ns in found if registry.lab_of_netns(ns) == lab_name]


def remove_lab_namespaces(lab_name: str) -> None:
    """Kill every process inside the lab's namespaces, then delete the namespaces."""
    for ns in lab_namespaces(lab_name):
        inode = netns_inode(ns)
        if inode is not None:
            kill_netns_members(inode)
        sh(["ip", "netns", "del", ns], check=False)


def sweep(base_dir: Path | None = None, include_persistent: bool = False) -> list[str]:
    """Remove labs left by crashed runs: only ``ahlab*`` labs whose owner process is gone.

    Returns the names removed. Labs of runs still alive (other test sessions) are kept, and so
    are persistent labs unless ``include_persistent``.
    """
    base = base_dir or registry.base_dir()
    candidates: set[str] = set()
    try:
        listing = sh(["ip", "netns", "list"]).stdout.splitlines()
    except LabError:
        listing = []
    for line in listing:
        if line.strip() and (lab := registry.lab_of_netns(line.split()[0])):
            candidates.add(lab)
    if base.is_dir():
        candidates |= {p.name for p in base.iterdir() if registry.NAME_RE.match(p.name)}
    removed = []
    for lab_name in sorted(candidates):
        if not _abandoned(base / lab_name, lab_name, include_persistent):
            continue
        remove_lab_namespaces(lab_name)
        shutil.rmtree(base / lab_name, ignore_errors=True)
        removed.append(lab_name)
    return removed


def _abandoned(lab_dir: Path, lab_name: str, include_persistent: bool) -> bool:
    try:
        record = registry.LabRecord.load(lab_dir)
    except (FileNotFoundError, ValueError):
        # No record: judge by the pid in the name alone.
        pid = registry.owner_pid(lab_name)
        return pid is None or not registry.process_started_at(pid, None)
    if record.owner_pid is None:
        return include_persistent
    return not record.owner_alive()
