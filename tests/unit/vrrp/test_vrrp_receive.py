"""Receive checks: each rejection and warning, in keepalived's order, with keepalived's words."""

from __future__ import annotations

import dataclasses
import ipaddress
import struct

import pytest

from astlinux_ha.vrrp.packet import Advert, AuthType, ChecksumVariant, encode, internet_checksum
from astlinux_ha.vrrp.receive import Accepted, Peer, Reason, ReceiveParams, Rejected, check

A4 = ipaddress.IPv4Address
A6 = ipaddress.IPv6Address
VIP = A4("10.10.50.244")
MASTER, BACKUP, GROUP = A4("10.10.50.62"), A4("10.10.50.65"), A4("224.0.0.18")

# the seed's backup: unicast v2, vrrp_check_unicast_src
SEED = ReceiveParams(name="VI_1", vrid=50, version=2, family=4, advert_int=1.0, vips=(VIP,),
                     unicast_peers=(Peer(MASTER),), check_unicast_src=True)
MCAST = dataclasses.replace(SEED, unicast_peers=(), check_unicast_src=False)
V3 = dataclasses.replace(MCAST, version=3)
V6 = ReceiveParams(name="VI_6", vrid=53, version=3, family=6, advert_int=1.0,
                   vips=(A6("fd00::244"),))


def seed_msg(**fields) -> bytes:
    base = dict(version=2, vrid=50, priority=100, interval=1, addresses=(VIP,))
    base.update(fields)
    return encode(Advert(**base), MASTER, BACKUP)


def refix(msg: bytes | bytearray) -> bytes:
    """Recompute a v2 checksum after editing a header field."""
    msg = bytearray(msg)
    msg[6:8] = b"\0\0"
    msg[6:8] = struct.pack("!H", internet_checksum(bytes(msg)))
    return bytes(msg)


def rejected(verdict) -> tuple[Reason, str]:
    assert isinstance(verdict, Rejected), verdict
    return verdict.reason, verdict.finding.message


def test_seed_advert_is_accepted_without_warnings():
    verdict = check(SEED, seed_msg(), MASTER, BACKUP, 255)
    assert isinstance(verdict, Accepted)
    assert verdict.advert.priority == 100
    assert verdict.warnings == ()
    assert verdict.checksum is ChecksumVariant.AS_V2


@pytest.mark.parametrize("params,payload,src,dst,ttl,reason,message", [
    (SEED, b"\x21\x32", MASTER, BACKUP, 255, Reason.TRUNCATED,
     "(VI_1) vrrp packet from 10.10.50.62 too short, length 2"),
    (SEED, seed_msg(vrid=51), MASTER, BACKUP, 255, Reason.VRID,
     "(VI_1) advert from 10.10.50.62 for VRID 51, ours is 50"),
    (SEED, seed_msg()[:-1], MASTER, BACKUP, 255, Reason.LENGTH,
     "(VI_1) vrrp packet from 10.10.50.62 too short, length 39 and expect 40"),
    (SEED, seed_msg() + b"\0" * 3, MASTER, BACKUP, 255, Reason.LENGTH,
     "(VI_1) vrrp packet from 10.10.50.62 too long, length 43 and expect 40"),
    (MCAST, encode(Advert(2, 50, 100, 1, (VIP,)), MASTER, GROUP), MASTER, GROUP, 254,
     Reason.TTL, "(VI_1) invalid TTL/HL from 10.10.50.62. Received 254 and expect 255"),
    (SEED, encode(Advert(3, 50, 100, 100, (VIP,)), MASTER, BACKUP), MASTER, BACKUP, 255,
     Reason.VERSION, "(VI_1) wrong VRRP version from 10.10.50.62. Received 3 and expect 2"),
    (SEED, refix(seed_msg()[:4] + b"\x03" + seed_msg()[5:]), MASTER, BACKUP, 255,
     Reason.AUTH_TYPE_INVALID, "(VI_1) Invalid auth type from 10.10.50.62: 3"),
    (SEED, seed_msg(auth_type=AuthType.PASS, auth_data=b"x"), MASTER, BACKUP, 255,
     Reason.AUTH_TYPE_MISMATCH, "(VI_1) received a 1 auth from 10.10.50.62, expecting 0!"),
    (dataclasses.replace(SEED, auth_type=AuthType.PASS, auth_password=b"secret"),
     seed_msg(auth_type=AuthType.PASS, auth_data=b"secreT"), MASTER, BACKUP, 255,
     Reason.AUTH_FAILURE, "(VI_1) received an invalid passwd from 10.10.50.62!"),
    (SEED, seed_msg(interval=2), MASTER, BACKUP, 255, Reason.INTERVAL_MISMATCH,
     "(VI_1) advertisement interval mismatch with 10.10.50.62 mine=1 sec rcv'd=2 sec"),
    (SEED, refix(bytes([0x22]) + seed_msg()[1:]), MASTER, BACKUP, 255, Reason.TYPE,
     "(VI_1) Invalid packet type from 10.10.50.62. 2 and expect 1"),
    (SEED, seed_msg()[:6] + b"\0\0" + seed_msg()[8:], MASTER, BACKUP, 255, Reason.CHECKSUM,
     "(VI_1) Invalid VRRPv2 checksum from 10.10.50.62"),
    (V3, encode(Advert(3, 50, 100, 100, (VIP,)), MASTER, BACKUP), MASTER, GROUP, 255,
     Reason.CHECKSUM, "(VI_1) Invalid VRRPv3 checksum from 10.10.50.62"),
    (SEED, encode(Advert(2, 50, 100, 1, (VIP,)), MASTER, GROUP), MASTER, GROUP, 255,
     Reason.DESTINATION,
     "(VI_1) Expected unicast packet but received multicast packet from 10.10.50.62"),
    (MCAST, seed_msg(), MASTER, BACKUP, 255, Reason.DESTINATION,
     "(VI_1) Expected multicast packet but received unicast packet from 10.10.50.62"),
    (V3, encode(Advert(3, 50, 100, 100, (VIP,)), MASTER, GROUP)[:4] + b"\0\0"
     + encode(Advert(3, 50, 100, 100, (VIP,)), MASTER, GROUP)[6:], MASTER, GROUP, 255,
     Reason.CHECKSUM, "(VI_1) Invalid VRRPv3 checksum from 10.10.50.62"),
    (dataclasses.replace(SEED, unicast_peers=(Peer(MASTER, 250, 255),)), seed_msg(), MASTER,
     BACKUP, 64, Reason.TTL_RANGE, "(VI_1) TTL/HL 64 from 10.10.50.62 not in range [250, 255]"),
])
def test_rejections(params, payload, src, dst, ttl, reason, message):
    got_reason, got_message = rejected(check(params, payload, src, dst, ttl))
    assert got_reason is reason
    assert got_message == message


def test_unicast_source_must_be_a_peer_when_checked():
    stranger = A4("10.10.50.99")
    msg = encode(Advert(2, 50, 100, 1, (VIP,)), stranger, BACKUP)
    assert rejected(check(SEED, msg, stranger, BACKUP, 255)) == (
        Reason.UNICAST_SRC, "(VI_1) unicast source address 10.10.50.99 not a unicast peer")
    # keepalived without vrrp_check_unicast_src accepts any source
    loose = dataclasses.replace(SEED, check_unicast_src=False)
    assert isinstance(check(loose, msg, stranger, BACKUP, 255), Accepted)


def test_v3_interval_zero_is_malformed_not_adopted():
    msg = bytearray(encode(Advert(3, 50, 100, 100, (VIP,)), MASTER, GROUP, checksum_as_v2=True))
    msg[4:6] = b"\0\0"
    params = dataclasses.replace(V3, checksum_as_v2=True)
    reason, message = rejected(check(params, refix(msg), MASTER, GROUP, 255))
    assert reason is Reason.MALFORMED
    assert message.startswith("(VI_1) malformed advert from 10.10.50.62: interval 0")


def test_unicast_ignores_ttl_unless_peer_window():
    assert isinstance(check(SEED, seed_msg(), MASTER, BACKUP, 64), Accepted)
    assert isinstance(check(MCAST, encode(Advert(2, 50, 100, 1, (VIP,)), MASTER, GROUP),
                            MASTER, GROUP, None), Accepted)


def test_ethernet_padding_is_allowed_as_keepalived_allows_it():
    # 20-byte IP header + 20-byte v2 message = 40 < 46: padding of 6 (6 % 4 == 2) is fine
    verdict = check(SEED, seed_msg() + b"\0" * 6, MASTER, BACKUP, 255)
    assert isinstance(verdict, Accepted)
    # padding is checked modulo 4: one extra byte cannot be Ethernet padding
    msg = encode(Advert(3, 53, 100, 100, (A6("fd00::244"),)), A6("fe80::1"), A6("ff02::12"))
    assert rejected(check(V6, msg + b"\0", A6("fe80::1"), A6("ff02::12"), 255))[0] is (
        Reason.LENGTH)
    # and a message already 46 bytes long is never padded
    big = seed_msg(addresses=(VIP,) * 5, )
    assert rejected(check(SEED, big + b"\0" * 2, MASTER, BACKUP, 255))[0] is Reason.LENGTH


def test_pass_password_matches_zero_padded():
    params = dataclasses.replace(SEED, auth_type=AuthType.PASS, auth_password=b"secret")
    msg = seed_msg(auth_type=AuthType.PASS, auth_data=b"secret")
    assert isinstance(check(params, msg, MASTER, BACKUP, 255), Accepted)


def test_v3_interval_mismatch_only_warns():
    msg = encode(Advert(3, 50, 100, 50, (VIP,)), MASTER, GROUP)
    verdict = check(V3, msg, MASTER, GROUP, 255)
    assert isinstance(verdict, Accepted)
    assert [(w.reason, w.message) for w in verdict.warnings] == [(
        Reason.V3_INTERVAL_MISMATCH,
        "(VI_1) advertisement interval mismatch ours = 100 centi-sec rcv'd=50 centi-sec")]


def test_vip_count_and_list_mismatch_warn_and_accept():
    other = A4("10.10.50.1")
    count = check(SEED, seed_msg(addresses=(VIP, other)), MASTER, BACKUP, 255)
    assert isinstance(count, Accepted)
    assert [(w.reason, w.message) for w in count.warnings] == [
        (Reason.VIP_COUNT, "(VI_1) expected 1 VIPs but received 2")]
    listed = check(SEED, seed_msg(addresses=(other,)), MASTER, BACKUP, 255)
    assert [(w.reason, w.message) for w in listed.warnings] == [
        (Reason.VIP_MISSING, "(VI_1) ip address associated with VRID 50 not present in advert "
         "from 10.10.50.62: 10.10.50.244")]
    skip = dataclasses.replace(SEED, skip_check_adv_addr=True)
    assert check(skip, seed_msg(addresses=(other,)), MASTER, BACKUP, 255,
                 master=MASTER).warnings == ()
    assert check(skip, seed_msg(addresses=(other,)), MASTER, BACKUP, 255,
                 master=A4("10.10.50.1")).warnings != ()


def test_old_keepalived_unicast_checksum_is_accepted_with_a_note():
    params = dataclasses.replace(V3, unicast_peers=(Peer(MASTER),))
    msg = encode(Advert(3, 50, 100, 100, (VIP,)), MASTER, BACKUP, mcast_group=GROUP)
    verdict = check(params, msg, MASTER, BACKUP, 255)
    assert isinstance(verdict, Accepted)
    assert verdict.checksum is ChecksumVariant.MCAST_DST
    assert [w.reason for w in verdict.warnings] == [Reason.CHECKSUM_COMPAT]
    assert verdict.warnings[0].message == "(VI_1) Setting unicast VRRPv3 checksum to old version"


def test_ipv6_checksum_is_the_kernels_business():
    src, dst = A6("fe80::1"), A6("ff02::12")
    msg = bytearray(encode(Advert(3, 53, 100, 100, (A6("fd00::244"),)), src, dst))
    msg[6:8] = b"\xde\xad"
    verdict = check(V6, bytes(msg), src, dst, 255)
    assert isinstance(verdict, Accepted) and verdict.checksum is None


def test_group_defaults_and_override():
    assert V6.group == A6("ff02::12") and SEED.group == GROUP
    assert dataclasses.replace(SEED, mcast_group=A4("224.0.0.19")).group == A4("224.0.0.19")
