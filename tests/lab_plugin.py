"""pytest fixtures for the lab, loaded by tests/conftest.py.

``lab``: a fresh, empty Lab per test, always torn down (even when the test raises); when the
test fails, the logs of every process spawned in its boxes are printed, so a failing daemon
explains itself in the test report. ``seed_lab``: the same with the seed's master, backup and
client boxes already added. Before the first lab of a session, leftovers of crashed runs are
swept (only labs whose owner process is gone).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from astlinux_ha.net.addresses import AddressManager
from astlinux_ha.net.netlink import Netlink
from lab import Daemon
from lab.box import Box
from lab.lab import Lab, sweep
from lab.netns import NetnsLoop, Wire

REQUIRED_TOOLS = ("ip", "nsenter", "unshare", "nft", "tcpdump", "ping")


ROOT_REASON = "needs root and network namespaces"
KEEPALIVED_REASON = "needs Debian's keepalived (make deps)"


def root_skip_reason() -> str | None:
    """Why a test that needs root cannot run here, or None when it can: the one gate every
    root test goes through (the ``root`` marker, and the lab fixtures by lab_skip_reason)."""
    return None if os.geteuid() == 0 else ROOT_REASON


def lab_skip_reason() -> str | None:
    """Why lab tests cannot run here, or None when they can."""
    reason = root_skip_reason()
    if reason:
        return reason
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"the lab needs {', '.join(missing)} (run make deps)"
    return None


@pytest.fixture(scope="session")
def _lab_session() -> None:
    reason = lab_skip_reason()
    if reason:
        pytest.skip(reason)
    sweep()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.root``: skipped, with the one reason, when not run as root.
    ``@pytest.mark.keepalived``: keepalived is the reference peer, so root and keepalived."""
    peer = item.get_closest_marker("keepalived") is not None
    if peer or item.get_closest_marker("root") is not None:
        reason = root_skip_reason()
        if reason:
            pytest.skip(reason)
    if peer and shutil.which("keepalived") is None:
        pytest.skip(KEEPALIVED_REASON)


# Each lab test that runs once with our daemon and once with keepalived, the same way.
each_daemon = pytest.mark.parametrize("daemon", [Daemon.ASTLINUX_HA, Daemon.KEEPALIVED],
                                      ids=["ours", "keepalived"])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item, so fixtures can tell a failed test."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_lab_rep_{report.when}", report)


@pytest.fixture(scope="module")
def image_lab(_lab_session: None) -> Iterator[Lab]:
    """One box ``ha`` (the seed master's address) booted on the shared ``make install`` image,
    for a whole test module: building and booting it once is what makes service tests cheap."""
    from lab.astlinux import shared_build  # builds wheels: only for the modules that ask

    _, image = shared_build()
    with Lab() as the_lab:
        the_lab.add_box("ha", "10.10.50.62/24", image=image)
        yield the_lab


def fresh_box(the_lab: Lab, name: str = "ha") -> Box:
    """``name`` power-cycled with an empty /mnt/kd: no daemon, pristine /etc and /var."""
    box = the_lab.box(name)
    for path in box.kd_dir.iterdir():
        subprocess.run(["rm", "-rf", str(path)], check=True)
    the_lab.reboot(box)
    return box


@pytest.fixture
def lab(_lab_session: None, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """A fresh lab, removed afterwards whatever the test did."""
    the_lab = Lab()
    try:
        yield the_lab
    finally:
        report = getattr(request.node, "_lab_rep_call", None)
        if report is not None and report.failed:
            _print_logs(the_lab)
        the_lab.close()


@pytest.fixture
def seed_lab(lab: Lab) -> Lab:
    """A lab with the seed's boxes: master 10.10.50.62, backup .65, client .10 (all /24)."""
    lab.add_seed_boxes()
    return lab


def _print_logs(the_lab: Lab) -> None:
    for box in the_lab.boxes.values():
        for proc in box.spawned:
            print(f"----- {box.name}: {proc.log_path.name} -----")
            print(proc.log_text()[-6000:])


@pytest.fixture
def address_host():
    """A veth wire with our netlink channel and address manager on its side a, run on a loop
    inside that namespace: (wire, loop, netlink, address manager)."""
    wire = Wire()
    try:
        wire.build()
        with NetnsLoop(wire.a) as loop:
            nl = Netlink()
            try:
                yield wire, loop, nl, AddressManager(nl)
            finally:
                loop.call(nl.close)
    finally:
        wire.destroy()
