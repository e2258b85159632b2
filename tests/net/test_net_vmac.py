"""use_vmac in one box (issue 14): the daemon's GARP/NA carry the virtual MAC (Ethernet source
and ARP sender / target link-layer option), a leftover macvlan of the name is replaced, and an
interface of that name that is no macvlan is never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from lab import Daemon, daemons
from lab.box import Box, wait_until

pytestmark = [pytest.mark.root]

VMAC4, VMAC6 = "00:00:5e:00:01:32", "00:00:5e:00:02:32"


def conf(vip: str) -> str:
    return f"""vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 50
    version 3
    priority 100
    advert_int 0.1
    use_vmac
    virtual_ipaddress {{
        {vip}
    }}
}}
"""


def capture(box: Box, pcap: str) -> subprocess.Popen[bytes]:
    """tcpdump on the box's switch port, frames into the switch, ARP and ICMPv6 only."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", box.switch_netns, "tcpdump", "-U", "--immediate-mode", "-Q",
         "in", "-i", box.port, "-w", pcap, "arp or icmp6"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    assert proc.stderr is not None
    assert b"listening on" in proc.stderr.readline()
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(5)


def announcements(pcap: str, vip: str) -> list[tuple[str, str]]:
    """(Ethernet source, announced link-layer address) of each GARP / unsolicited NA."""
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr
    from scapy.layers.l2 import ARP, Ether
    from scapy.utils import rdpcap

    out = []
    for frame in rdpcap(pcap):
        if ARP in frame and frame[ARP].psrc == vip == frame[ARP].pdst:
            out.append((frame[Ether].src, frame[ARP].hwsrc))
        elif ICMPv6ND_NA in frame and frame[ICMPv6ND_NA].tgt == vip:
            option = frame[ICMPv6NDOptDstLLAddr].lladdr if ICMPv6NDOptDstLLAddr in frame else ""
            out.append((frame[Ether].src, option))
    return out


@pytest.mark.parametrize(("vip", "vmac"), [("10.10.50.244", VMAC4), ("fd00::244", VMAC6)],
                         ids=["garp", "na"])
def test_gratuitous_announcements_carry_the_virtual_mac(lab, tmp_path, vip, vmac):
    box = lab.add_box("master", "10.10.50.62/24")
    box.add_address("fd00::62/64")
    daemons.install_config(box, conf(vip))
    pcap = str(tmp_path / "announce.pcap")
    cap = capture(box, pcap)
    proc = daemons.start(box, Daemon.ASTLINUX_HA)
    assert wait_until(lambda: box.holds(vip), 10), proc.log_text()
    time.sleep(0.5)
    stop(cap)
    proc.stop()
    sent = announcements(pcap, vip)
    assert sent and set(sent) == {(vmac, vmac)}, (sent, proc.log_text())


def test_a_leftover_macvlan_is_replaced(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    # A crashed run's, with another MAC.
    box.run("ip link add vrrp.50 link eth0 type macvlan mode private && "
            "ip link set vrrp.50 address 02:00:00:00:00:99 up")
    daemons.install_config(box, conf("10.10.50.244"))
    proc = daemons.start(box, Daemon.ASTLINUX_HA)
    assert wait_until(lambda: box.holds("10.10.50.244"), 10), proc.log_text()
    assert "(VI_1) Success creating VMAC interface vrrp.50" in proc.log_text()
    link = box.run("ip -d link show vrrp.50").stdout
    assert VMAC4 in link and "macvlan mode bridge" in link, link
    proc.stop()
    assert "vrrp.50" not in box.run("ip link").stdout


def test_an_interface_of_that_name_that_is_not_a_macvlan_is_left_alone(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    box.run("ip link add vrrp.50 type veth peer name vrrp50p && ip link set vrrp.50 up")
    daemons.install_config(box, conf("10.10.50.244"))
    proc = daemons.start(box, Daemon.ASTLINUX_HA)
    assert wait_until(lambda: "instance disabled" in proc.log_text(), 10), proc.log_text()
    assert "vrrp.50 exists and is not a macvlan (veth) - not touching it" in proc.log_text()
    assert "veth" in box.run("ip -d link show vrrp.50").stdout
    assert not box.holds("10.10.50.244")
    proc.stop()
    assert "veth" in box.run("ip -d link show vrrp.50").stdout
