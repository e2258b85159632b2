"""The seed's walk-through driven only through ``service keepalived ...`` inside the boxes.

Config written to /mnt/kd/keepalived/keepalived.conf, ``service keepalived init`` on both boxes,
the priority edit applied with ``service keepalived restart``, the master stopped with
``service keepalived stop``; the service is installed by ``make install`` (an image).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import Lab, astlinux
from lab.service_walkthrough import run_service_walkthrough

pytestmark = [pytest.mark.root]

REPO = Path(__file__).resolve().parents[2]


def test_seed_walkthrough_through_service(lab: Lab) -> None:
    _, image = astlinux.shared_build()
    lab.add_box("master", "10.10.50.62/24", image=image)
    lab.add_box("backup", "10.10.50.65/24", image=image)
    result = run_service_walkthrough(
        lab, (REPO / "etc/keepalived/keepalived.conf.master").read_text(),
        (REPO / "etc/keepalived/keepalived.conf.backup").read_text())
    print(result.render())
    assert result.ok, result.render() + "\n" + "\n".join(result.logs.values())
    timeline = "\n".join(text for _, text in result.timeline)
    assert timeline.count("# service keepalived init -> exit 0: Starting keepalived...") == 2
    assert timeline.count("backup# service keepalived restart -> exit 0") == 2
    assert "master# service keepalived stop -> exit 0: Stopping keepalived..." in timeline
    assert set(result.daemons.values()) == {"service keepalived (astlinux-ha)"}
