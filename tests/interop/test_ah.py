"""The seed's walk-through with ``authentication { auth_type AH }`` on both boxes.

VRRPv2 over IPsec AH (IP protocol 51, an HMAC-MD5 ICV and a sequence number shared by the
pair, see astlinux_ha/vrrp/ah.py): ours with ours, and each mixed pair with keepalived 2.2.7,
on the seed's unicast setup and on multicast. AH makes both daemons clear the seed master's
``state MASTER`` (a fresh box must learn the sequence number before it may send), so the pair
starts as two backups and the master takes over after its master-down interval. The
walk-through's restarts and the split brain exercise the sequence number's hand-overs: a
restarted box starts again at 0 and must first adopt its peer's number.

One allowance, for keepalived as the master: the walk-through restarts the backup just before
it blocks VRRP, so the backup takes over during the block still counting from 0, and after the
unblock keepalived drops its adverts as replays (as it drops keepalived's own in that spot).
keepalived 2.2.7 then re-arms its advert timer one interval after each packet it dropped (seen
on the wire in the lab: its adverts moved to 1.00 s after each of the backup's), so the
backup's next advert can hold off the one that ends the split brain. The heal then takes a few
intervals instead of one; it must still come within the walk-through's failover deadline.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from astlinux_ha.vrrp import ah
from lab import Daemon, daemons
from lab.walkthrough import WalkthroughResult, run_walkthrough

pytestmark = [pytest.mark.root, pytest.mark.slow]

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived"
OURS, KEEPALIVED = Daemon.ASTLINUX_HA, Daemon.KEEPALIVED
AUTH = "authentication {\n        auth_type AH\n        auth_pass secret12\n    }"

needs_keepalived = pytest.mark.skipif(shutil.which("keepalived") is None,
                                      reason="needs Debian's keepalived (make deps)")


def ah_conf(name: str, *, multicast: bool) -> str:
    """The seed's config with AH authentication added to VI_1."""
    text = (SEED / f"keepalived.conf.{name}").read_text()
    if multicast:
        text = daemons.without_unicast(text)
    text, count = re.subn(r"(?m)^(\s*)advert_int 1\s*$", rf"\g<1>advert_int 1\n\g<1>{AUTH}",
                          text)
    assert count == 1
    return text


# AH is VRRPv2 only: 1 s adverts, 23 s a walk-through. Ours on both boxes in unicast, and
# each direction of a mixed pair once, one in each mode.
PAIRS = [
    pytest.param(OURS, OURS, False, id="ours-ours-unicast"),
    pytest.param(KEEPALIVED, OURS, False, id="keepalived-master-ours-backup-unicast",
                 marks=needs_keepalived),
    pytest.param(OURS, KEEPALIVED, True, id="ours-master-keepalived-backup-multicast",
                 marks=needs_keepalived),
]


@pytest.mark.parametrize(("master", "backup", "multicast"), PAIRS)
def test_ah_walkthrough(lab, master: Daemon, backup: Daemon, multicast: bool):
    cap = lab.capture("ip proto 51 or ip proto 112")
    result = run_walkthrough(lab, ah_conf("master", multicast=multicast),
                             ah_conf("backup", multicast=multicast),
                             master_daemon=master, backup_daemon=backup)
    cap.stop()
    assert walked(result, master), result.render()
    for box, kind in (("master", master), ("backup", backup)):
        if kind is OURS:
            log = result.logs[box]
            # Every advert of the peer had a valid ICV and SPI. (Replays may be logged: a box
            # restarted just before the split brain sends numbers its peer has passed.)
            assert "HMAC-MD5" not in log and "SPI" not in log, f"{box}:\n{log}"
            assert "auth type" not in log.lower(), f"{box}:\n{log}"
    check_wire(lab.dir / "capture0.pcap", multicast=multicast)


def walked(result: WalkthroughResult, master: Daemon) -> bool:
    """The walk-through's verdict, with the one allowance of the module docstring."""
    for step in result.steps:
        if step.error is None:
            continue
        deferred = (master is KEEPALIVED and step.name == "unblock VRRP (heals)"
                    and step.error.endswith("more than one advert interval"))
        if not deferred:
            return False
    return bool(result.steps) and not result.violations


def check_wire(pcap: Path, *, multicast: bool) -> None:
    """Every advert on the wire was AH with a valid ICV and SPI, none plain protocol 112,
    and both boxes sent."""
    from scapy.layers.inet import IP
    from scapy.utils import rdpcap

    frames = [f[IP] for f in rdpcap(str(pcap)) if IP in f]
    assert frames, "nothing captured"
    assert all(ip.proto == ah.IPPROTO_AH for ip in frames), "a plain VRRP advert was sent"
    for ip in frames:
        packet = ah.split(bytes(ip)[: ip.len])
        assert ah.verify_icv(b"secret12", packet, unicast=not multicast), ip.summary()
        assert packet.spi == int(packet.src)
        assert packet.next_header == 112
    assert {ip.src for ip in frames} == {"10.10.50.62", "10.10.50.65"}
