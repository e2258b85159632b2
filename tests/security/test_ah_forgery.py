"""Forged and replayed AH adverts from a third box cannot move the VIP.

Our two daemons run the seed's pair with ``authentication { auth_type AH auth_pass secret12 }``.
An attacker on the same switch, claiming the address of the target's peer, sends the target:

* a forged AH advert at priority 255 signed with a wrong key (and a sequence number far
  ahead, so that only the ICV can stop it): counted as ``auth failure``;
* replays of genuine adverts the peer sent earlier, byte for byte as captured on the switch
  (valid ICV, old sequence numbers): counted as ``ah replay``;
* a plain protocol-112 advert at priority 255 with auth type 2 (what a forger without the AH
  header would try): counted as ``auth type mismatch``.

Against the master and against the backup, the VIP stays on the master, neither daemon
changes state, and each kind is counted in the SIGUSR2 stats file. The replays need genuine
adverts of each box: the master's from the start, the backup's from a takeover while the
master is restarted.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from pathlib import Path

import pytest

from astlinux_ha.vrrp import ah
from astlinux_ha.vrrp.packet import Advert, AuthType, encode
from lab.box import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardening"))
import hardening_util as hu  # noqa: E402  (a helper module of tests/hardening, not a package)

pytestmark = [pytest.mark.root, pytest.mark.slow]

A4 = ipaddress.IPv4Address
AUTH = "authentication {\n        auth_type AH\n        auth_pass secret12\n    }"
ADDRESS = {"master": A4("10.10.50.62"), "backup": A4("10.10.50.65")}
COUNT = 20
# Sends whole IPv4 datagrams (our own header: a forged source) out of the attacker's eth0.
SEND = ("import socket, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\n"
        "s.setsockopt(socket.SOL_SOCKET, 25, b'eth0')\n"
        "for h in sys.argv[2:]:\n"
        "    s.sendto(bytes.fromhex(h), (sys.argv[1], 0))\n")


def forged(src: A4, dst: A4) -> bytes:
    vrrp = encode(Advert(2, 50, 255, 1, (A4(hu.VIP),), AuthType.AH), src, dst)
    return ah.build(vrrp, src, dst, key=b"wrongkey", seq=2**31, ip_id=7, unicast=True)


def plain(src: A4, dst: A4) -> bytes:
    vrrp = encode(Advert(2, 50, 255, 1, (A4(hu.VIP),), AuthType.AH), src, dst)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(vrrp), 0, 0, 255, 112, 0,
                         src.packed, dst.packed)
    return header + vrrp


def genuine(pcap: Path, src: A4, dst: A4) -> list[bytes]:
    """The adverts ``src`` sent ``dst`` as captured, oldest first (valid, but long past)."""
    from scapy.layers.inet import IP
    from scapy.utils import rdpcap

    found = []
    for frame in rdpcap(str(pcap)):
        if IP in frame and frame[IP].proto == ah.IPPROTO_AH:
            ip = frame[IP]
            if A4(ip.src) == src and A4(ip.dst) == dst and bytes(ip)[46] != 0:
                found.append(bytes(ip)[: ip.len])
    return found


@pytest.mark.parametrize("target", ["master", "backup"])
def test_forged_and_replayed_ah_adverts_are_dropped_and_counted(lab, target):
    cap = lab.capture("ip proto 51 or ip proto 112")
    master, backup, pm, pb = hu.pair(lab, extra_instance=AUTH)
    # Genuine adverts of the backup: it takes over while the master restarts, then gives
    # the VIP back when the master (having adopted the backup's number) preempts.
    pm.stop()
    lab.wait_for_holders(hu.VIP, ["backup"], 5)
    wait_until(lambda: len(genuine(cap.pcap, ADDRESS["backup"], ADDRESS["master"])) >= 3, 5)
    pm = hu.start(master, hu.seed_conf("master", extra_instance=AUTH))
    lab.wait_for_holders(hu.VIP, ["master"], 10)
    assert wait_until(lambda: hu.role(master) == "MASTER" and hu.role(backup) == "BACKUP", 5)

    boxes = {"master": (master, pm), "backup": (backup, pb)}
    victim, proc = boxes[target]
    dst = ADDRESS[target]
    peer = ADDRESS["backup" if target == "master" else "master"]
    replays = genuine(cap.pcap, peer, dst)[:3]
    assert replays, "no genuine advert of the peer captured"
    attacker = lab.add_box(*hu.ATTACKER)
    before = hu.stats(victim, proc)
    changes = {name: len(hu.transitions(box)) for name, (box, _) in boxes.items()}

    packets = ([forged(peer, dst)] * COUNT + [plain(peer, dst)] * COUNT
               + (replays * COUNT)[:COUNT])
    attacker.run([sys.executable, "-c", SEND, str(dst), *(p.hex() for p in packets)])
    hu.stays(lab, ["master"], 3.0)

    after = hu.stats(victim, proc)
    gained = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert gained.get("auth failure") == COUNT, gained
    assert gained.get("ah replay") == COUNT, gained
    assert gained.get("auth type mismatch") == COUNT, gained
    assert gained.get("accepted", 0) <= 8, gained  # only the peer's own adverts, 1 per second
    for name, (box, p) in boxes.items():
        assert p.alive(), p.log_text()
        assert len(hu.transitions(box)) == changes[name], hu.transitions(box)
    log = proc.log_text()
    # One line per kind at most (rate-limited), keepalived's words.
    assert log.count("invalid IPSEC HMAC-MD5 value") == 1, log
    assert log.count("already processed. Packet dropped") == 1, log
    assert log.count("No AH header but auth type is AH") == 1, log
