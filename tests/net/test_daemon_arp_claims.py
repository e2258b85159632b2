"""The ARP frames the split-brain watch sends and reads (net/conflict.py), without a network."""

from __future__ import annotations

import ipaddress

from astlinux_ha.net import garp_frame
from astlinux_ha.net.conflict import arp_request_frame, format_mac, parse_arp_claim

MAC = bytes.fromhex("020a0a32413e")
VIP = ipaddress.IPv4Address("10.10.50.244")
OWN = ipaddress.IPv4Address("10.10.50.65")


def test_probe_asks_for_the_vip_from_our_own_address():
    frame = arp_request_frame(MAC, OWN, VIP)
    assert len(frame) == 42 and frame[:6] == b"\xff" * 6 and frame[6:12] == MAC
    # A probe claims our own address, never the VIP: it must not look like a GARP.
    assert parse_arp_claim(frame) == (OWN, MAC)
    assert frame[-4:] == VIP.packed


def test_a_garp_claims_the_vip():
    assert parse_arp_claim(garp_frame(MAC, VIP)) == (VIP, MAC)


def test_a_reply_claims_its_sender_address():
    reply = bytearray(arp_request_frame(MAC, VIP, OWN))
    reply[21] = 2  # opcode: reply
    assert parse_arp_claim(bytes(reply)) == (VIP, MAC)


def test_other_frames_are_no_claims():
    frame = arp_request_frame(MAC, OWN, VIP)
    assert parse_arp_claim(frame[:41]) is None
    rarp = bytearray(frame)
    rarp[21] = 3  # RARP request
    assert parse_arp_claim(bytes(rarp)) is None
    not_ipv4 = bytearray(frame)
    not_ipv4[16:18] = b"\x86\xdd"
    assert parse_arp_claim(bytes(not_ipv4)) is None


def test_mac_format():
    assert format_mac(MAC) == "02:0a:0a:32:41:3e"
