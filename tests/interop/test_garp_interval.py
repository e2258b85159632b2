"""vrrp_garp_interval / vrrp_gna_interval read from a config: a new master's burst of
gratuitous ARPs (IPv4) and unsolicited neighbour adverts (IPv6) is paced by them, ours as
keepalived's, where without them the burst leaves back to back."""

from __future__ import annotations

import time

import pytest
from lab_plugin import each_daemon

from lab import Daemon, daemons
from lab.box import wait_until

pytestmark = pytest.mark.keepalived

VIP4, VIP6 = "10.10.50.244", "fd00:50::244"
REPEAT = 4
# The timers are coarse next to this on a loaded 2-core VM: a gap well under the interval is a
# burst left unpaced, which is what the test must tell apart.
INTERVAL = 0.25


def conf(paced: bool) -> str:
    pacing = (f"    vrrp_garp_interval {INTERVAL}\n    vrrp_gna_interval {INTERVAL}\n"
              if paced else "")
    instance = """vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    version 3
    priority 100
    advert_int 0.1
    virtual_ipaddress {{
        {vip} dev eth0
    }}
}}
"""
    return (f"global_defs {{\n    router_id ASTLINUX\n    vrrp_garp_master_repeat {REPEAT}\n"
            f"    vrrp_garp_master_delay 0\n{pacing}}}\n"
            + instance.format(name="VI_4", vrid=50, vip=f"{VIP4}/32")
            + instance.format(name="VI_6", vrid=60, vip=f"{VIP6}/64"))


def _announcements(pcap) -> dict[str, list[float]]:
    """Times of the gratuitous ARPs for VIP4 and the unsolicited NAs for VIP6 in ``pcap``."""
    from scapy.layers.inet6 import ICMPv6ND_NA
    from scapy.layers.l2 import ARP
    from scapy.utils import PcapReader

    seen: dict[str, list[float]] = {"arp": [], "na": []}
    with PcapReader(str(pcap)) as reader:
        for frame in reader:
            if ARP in frame and frame[ARP].psrc == VIP4 and frame[ARP].pdst == VIP4:
                seen["arp"].append(float(frame.time))
            elif ICMPv6ND_NA in frame and frame[ICMPv6ND_NA].tgt == VIP6:
                seen["na"].append(float(frame.time))
    return seen


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


@each_daemon
@pytest.mark.parametrize("paced", [True, False], ids=["paced", "unpaced"])
def test_garp_and_na_bursts_follow_the_configured_interval(lab, daemon, paced):
    box = lab.add_box("master", "10.10.50.62/24")
    box.run(["ip", "-6", "addr", "add", "fd00:50::62/64", "dev", "eth0", "nodad"])
    daemons.install_config(box, conf(paced))
    cap = lab.capture("arp or icmp6")
    proc = daemons.start(box, daemon)
    assert wait_until(lambda: box.holds(VIP4) and box.holds(VIP6), 10), proc.log_text()
    time.sleep(REPEAT * INTERVAL + 0.5)  # the whole burst, paced or not
    cap.stop()
    seen = _announcements(cap.pcap)
    for kind in ("arp", "na"):
        gaps = _gaps(seen[kind][:REPEAT])
        # keepalived 2.2.7 sends only 2 of the 4 when paced (measured here); ours sends the
        # vrrp_garp_master_repeat it is told, paced or not.
        wanted = 1 if daemon is Daemon.KEEPALIVED and paced else REPEAT - 1
        assert len(gaps) >= wanted, (kind, seen, proc.log_text())
        if paced:
            assert min(gaps) >= INTERVAL - 0.03, (kind, gaps)
        else:
            assert max(gaps) < INTERVAL / 2, (kind, gaps)
