"""The packet codec: keepalived's own bytes both ways, scapy as an oracle, round trips, limits."""

from __future__ import annotations

import ipaddress
import json
import pathlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.vrrp import VRRP, VRRPv3

from astlinux_ha.vrrp.packet import (
    Advert,
    AuthType,
    ChecksumVariant,
    PacketError,
    PacketProblem,
    checksum_variant,
    decode,
    encode,
    internet_checksum,
    message_length,
)

DATA = pathlib.Path(__file__).parent / "data"
GOLDEN = [json.loads(line) for line in (DATA / "golden.jsonl").read_text().splitlines()]
A4 = ipaddress.IPv4Address
A6 = ipaddress.IPv6Address
SRC4, DST4, GROUP4 = A4("10.10.50.62"), A4("10.10.50.65"), A4("224.0.0.18")
SRC6, GROUP6 = A6("fe80::1"), A6("ff02::12")


def golden_id(row: dict) -> str:
    return f"{row['name']}-prio{int(row['hex'][4:6], 16)}"


# What the capture script configured for each scenario (see capture_keepalived.sh).
EXPECTED = {
    "v2_unicast": dict(version=2, vrid=50, priority=100, interval=1, n=1, auth=AuthType.NONE),
    "v2_multicast_pass": dict(version=2, vrid=51, priority=150, interval=2, n=2,
                              auth=AuthType.PASS),
    "v3_ipv4": dict(version=3, vrid=52, priority=200, interval=50, n=1, auth=AuthType.NONE),
    "v3_ipv4_unicast": dict(version=3, vrid=54, priority=120, interval=100, n=1,
                            auth=AuthType.NONE),
    "v3_ipv6": dict(version=3, vrid=53, priority=254, interval=100, n=2, auth=AuthType.NONE),
}


def test_golden_covers_every_scenario_with_a_priority_zero_advert():
    names = {row["name"] for row in GOLDEN}
    assert names == set(EXPECTED)
    for name in names:
        prios = {int(r["hex"][4:6], 16) for r in GOLDEN if r["name"] == name}
        assert prios == {EXPECTED[name]["priority"], 0}


@pytest.mark.parametrize("row", GOLDEN, ids=golden_id)
def test_golden_decodes_to_the_configured_fields(row):
    src, dst = ipaddress.ip_address(row["src"]), ipaddress.ip_address(row["dst"])
    payload = bytes.fromhex(row["hex"])
    advert = decode(payload, src, dst)
    want = EXPECTED[row["name"]]
    assert advert.version == want["version"]
    assert advert.vrid == want["vrid"]
    assert advert.priority in (want["priority"], 0)
    assert advert.interval == want["interval"]
    assert len(advert.addresses) == want["n"]
    assert advert.auth_type is want["auth"]
    if want["auth"] is AuthType.PASS:
        assert advert.auth_data == b"secret\0\0"
    assert row["ttl"] == 255


@pytest.mark.parametrize("row", GOLDEN, ids=golden_id)
def test_golden_encodes_to_keepalived_bytes(row):
    src, dst = ipaddress.ip_address(row["src"]), ipaddress.ip_address(row["dst"])
    payload = bytes.fromhex(row["hex"])
    want = EXPECTED[row["name"]]
    vips = {
        4: (A4("10.10.50.244"), A4("10.10.50.245")),
        6: (A6("fd00:50::244"), A6("fd00:50::245")),
    }[src.version][: want["n"]]
    advert = Advert(
        want["version"], want["vrid"], payload[2], want["interval"], vips, want["auth"],
        b"secret" if want["auth"] is AuthType.PASS else b"",
    )
    assert encode(advert, src, dst) == payload


def test_golden_v3_unicast_uses_the_real_destination_in_the_pseudo_header():
    row = next(r for r in GOLDEN if r["name"] == "v3_ipv4_unicast")
    payload = bytes.fromhex(row["hex"])
    assert checksum_variant(payload, SRC4, DST4, mcast_group=GROUP4) is (
        ChecksumVariant.PSEUDO_HEADER
    )
    # and keepalived's checksum is not the as-v2 one, so the setting matters
    with pytest.raises(PacketError) as err:
        decode(payload, SRC4, DST4, checksum_as_v2=True)
    assert err.value.problem is PacketProblem.BAD_CHECKSUM


def test_old_unicast_checksum_variant_is_detected_and_encoded():
    advert = Advert(3, 54, 120, 100, (A4("10.10.50.244"),))
    old = encode(advert, SRC4, DST4, mcast_group=GROUP4)
    assert old != encode(advert, SRC4, DST4)
    assert checksum_variant(old, SRC4, DST4, mcast_group=GROUP4) is ChecksumVariant.MCAST_DST
    assert checksum_variant(old, SRC4, DST4) is None
    assert decode(old, SRC4, DST4, mcast_group=GROUP4) == advert


def test_checksum_as_v2_variant_round_trips_and_differs():
    advert = Advert(3, 7, 100, 100, (A4("192.0.2.1"),))
    as_v2 = encode(advert, SRC4, GROUP4, checksum_as_v2=True)
    assert internet_checksum(as_v2) == 0
    assert decode(as_v2, SRC4, GROUP4, checksum_as_v2=True) == advert
    with pytest.raises(PacketError):
        decode(as_v2, SRC4, GROUP4)


def test_ipv6_checksum_can_be_left_to_the_kernel():
    advert = Advert(3, 9, 100, 100, (A6("2001:db8::1"),))
    msg = bytearray(encode(advert, SRC6, GROUP6))
    msg[6:8] = b"\0\0"  # what keepalived hands the kernel to fill in
    assert decode(bytes(msg), SRC6, GROUP6, verify_checksum=False) == advert
    with pytest.raises(PacketError):
        decode(bytes(msg), SRC6, GROUP6)


# ------------------------------------------------------------------ scapy as oracle

def test_scapy_reads_our_v2_the_same():
    advert = Advert(2, 50, 100, 1, (A4("10.10.50.244"), A4("10.10.50.245")), AuthType.PASS,
                    b"pw")
    msg = encode(advert, SRC4, GROUP4)
    layer = VRRP(msg)
    assert (layer.version, layer.type, layer.vrid, layer.priority) == (2, 1, 50, 100)
    assert (layer.ipcount, layer.authtype, layer.adv) == (2, 1, 1)
    assert layer.addrlist == ["10.10.50.244", "10.10.50.245"]
    assert layer.auth1 + layer.auth2 == int.from_bytes(b"pw\0\0", "big") + 0
    rebuilt = bytes(VRRP(vrid=50, priority=100, ipcount=2, authtype=1, adv=1,
                         addrlist=["10.10.50.244", "10.10.50.245"],
                         auth1=int.from_bytes(b"pw\0\0", "big"), auth2=0))
    assert rebuilt == msg


@pytest.mark.parametrize("v6", [False, True])
def test_scapy_builds_the_same_v3_bytes(v6):
    if v6:
        src, dst, addrs = SRC6, GROUP6, ["2001:db8::1"]
        pkt = IPv6(src=str(src), dst=str(dst)) / VRRPv3(vrid=3, priority=200, adv=100,
                                                      ipcount=1, addrlist=addrs)
        vrrp = bytes(IPv6(bytes(pkt))[VRRPv3])
    else:
        src, dst, addrs = SRC4, GROUP4, ["10.0.0.1"]
        pkt = IP(src=str(src), dst=str(dst)) / VRRPv3(vrid=3, priority=200, adv=100,
                                                    ipcount=1, addrlist=addrs)
        vrrp = bytes(IP(bytes(pkt))[VRRPv3])
    advert = Advert(3, 3, 200, 100, tuple(ipaddress.ip_address(a) for a in addrs))
    assert encode(advert, src, dst) == vrrp
    assert decode(vrrp, src, dst) == advert


# ------------------------------------------------------------------ round trips

def v4() -> st.SearchStrategy[A4]:
    return st.integers(0, 2**32 - 1).map(A4)


def v6() -> st.SearchStrategy[A6]:
    return st.integers(0, 2**128 - 1).map(A6)


@st.composite
def adverts(draw) -> tuple[Advert, object, object]:
    version = draw(st.sampled_from([2, 3]))
    family = 4 if version == 2 else draw(st.sampled_from([4, 6]))
    addr = v4() if family == 4 else v6()
    addresses = tuple(draw(st.lists(addr, max_size=20)))
    if version == 2:
        interval = draw(st.integers(1, 255))
        auth = draw(st.sampled_from(list(AuthType)))
        data = draw(st.binary(max_size=8))
        advert = Advert(2, draw(st.integers(1, 255)), draw(st.integers(0, 255)), interval,
                        addresses, auth, data)
    else:
        advert = Advert(3, draw(st.integers(1, 255)), draw(st.integers(0, 255)),
                        draw(st.integers(1, 4095)), addresses)
    return advert, draw(addr), draw(addr)


@settings(max_examples=300, deadline=None)
@given(adverts(), st.booleans())
def test_round_trip(case, as_v2):
    advert, src, dst = case
    msg = encode(advert, src, dst, checksum_as_v2=as_v2)
    assert len(msg) == message_length(advert.version, src.version, len(advert.addresses))
    assert decode(msg, src, dst, checksum_as_v2=as_v2) == advert


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120), v4(), v4())
def test_decode_raises_only_packet_error(blob, src, dst):
    try:
        decode(blob, src, dst)
    except PacketError as exc:
        assert isinstance(exc.problem, PacketProblem)


@settings(max_examples=300, deadline=None)
@given(adverts(), st.integers(0, 200), st.integers(0, 255))
def test_any_single_byte_change_is_caught(case, index, value):
    advert, src, dst = case
    msg = bytearray(encode(advert, src, dst))
    index %= len(msg)
    if msg[index] == value:
        return
    msg[index] = value
    with pytest.raises(PacketError):
        got = decode(bytes(msg), src, dst)
        # a change the checksum cannot see (none exist for one byte) would land here
        assert got == advert


# ------------------------------------------------------------------ boundaries

@pytest.mark.parametrize("vrid,ok", [(0, False), (1, True), (255, True), (256, False)])
def test_vrid_limits(vrid, ok):
    if ok:
        assert Advert(2, vrid, 100, 1).vrid == vrid
    else:
        with pytest.raises(PacketError) as err:
            Advert(2, vrid, 100, 1)
        assert err.value.problem is PacketProblem.BAD_VRID


@pytest.mark.parametrize("prio", [0, 1, 254, 255])
def test_priority_limits_round_trip(prio):
    advert = Advert(3, 1, prio, 100)
    assert decode(encode(advert, SRC4, GROUP4), SRC4, GROUP4).priority == prio


@pytest.mark.parametrize("prio", [-1, 256])
def test_priority_out_of_range(prio):
    with pytest.raises(PacketError) as err:
        Advert(3, 1, prio, 100)
    assert err.value.problem is PacketProblem.BAD_PRIORITY


@pytest.mark.parametrize("count", [0, 255])
def test_address_count_limits(count):
    addrs = tuple(A4(0x0A000000 + i) for i in range(count))
    advert = Advert(2, 1, 100, 1, addrs)
    msg = encode(advert, SRC4, GROUP4)
    assert len(msg) == 8 + 4 * count + 8
    assert decode(msg, SRC4, GROUP4) == advert


def test_256_addresses_do_not_fit():
    with pytest.raises(PacketError) as err:
        Advert(3, 1, 100, 100, tuple(A4(i) for i in range(256)))
    assert err.value.problem is PacketProblem.BAD_ADDRESS


@pytest.mark.parametrize("version,interval,ok", [
    (2, 0, False), (2, 1, True), (2, 255, True), (2, 256, False),
    (3, 0, False), (3, 1, True), (3, 4095, True), (3, 4096, False),
])
def test_interval_limits(version, interval, ok):
    if ok:
        advert = Advert(version, 1, 100, interval)
        assert decode(encode(advert, SRC4, GROUP4), SRC4, GROUP4).interval == interval
        assert advert.interval_seconds == (interval if version == 2 else interval / 100)
    else:
        with pytest.raises(PacketError) as err:
            Advert(version, 1, 100, interval)
        assert err.value.problem is PacketProblem.BAD_INTERVAL


def test_v3_reserved_interval_bits_are_ignored():
    msg = bytearray(encode(Advert(3, 1, 100, 100), SRC4, GROUP4, checksum_as_v2=True))
    msg[4] |= 0xF0
    msg[6:8] = b"\0\0"
    msg[6:8] = struct.pack("!H", internet_checksum(bytes(msg)))
    assert decode(bytes(msg), SRC4, GROUP4, checksum_as_v2=True).interval == 100


@pytest.mark.parametrize("mutate,problem", [
    (lambda m: m[:7], PacketProblem.TRUNCATED),
    (lambda m: bytes([0x11]) + m[1:], PacketProblem.BAD_VERSION),
    (lambda m: bytes([0x22]) + m[1:], PacketProblem.BAD_TYPE),
    (lambda m: m + b"\0\0\0\0", PacketProblem.BAD_LENGTH),
    (lambda m: m[:2] + b"\x00\x02" + m[4:], PacketProblem.BAD_LENGTH),
    (lambda m: m[:6] + b"\0\0" + m[8:], PacketProblem.BAD_CHECKSUM),
])
def test_decode_problems(mutate, problem):
    msg = encode(Advert(2, 5, 100, 1, (A4("10.0.0.1"),)), SRC4, GROUP4)
    with pytest.raises(PacketError) as err:
        decode(mutate(msg), SRC4, GROUP4)
    assert err.value.problem is problem


def test_unknown_auth_type_is_a_packet_error():
    msg = bytearray(encode(Advert(2, 5, 100, 1), SRC4, GROUP4))
    msg[4] = 3
    msg[6:8] = b"\0\0"
    msg[6:8] = struct.pack("!H", internet_checksum(bytes(msg)))
    with pytest.raises(PacketError) as err:
        decode(bytes(msg), SRC4, GROUP4)
    assert err.value.problem is PacketProblem.BAD_AUTH_TYPE


@pytest.mark.parametrize("build,problem", [
    (lambda: Advert(4, 1, 1, 1), PacketProblem.BAD_VERSION),
    (lambda: Advert(3, 1, 1, 1, auth_type=AuthType.PASS), PacketProblem.BAD_AUTH_TYPE),
    (lambda: Advert(2, 1, 1, 1, auth_data=b"123456789"), PacketProblem.BAD_AUTH_TYPE),
    (lambda: Advert(3, 1, 1, 1, (A4(1), A6(1))), PacketProblem.BAD_FAMILY),
])
def test_invalid_adverts(build, problem):
    with pytest.raises(PacketError) as err:
        build()
    assert err.value.problem is problem


@pytest.mark.parametrize("advert,src,dst", [
    (Advert(2, 1, 1, 1), SRC6, GROUP6),
    (Advert(3, 1, 1, 1), SRC4, GROUP6),
    (Advert(3, 1, 1, 1, (A6(1),)), SRC4, GROUP4),
])
def test_encode_family_problems(advert, src, dst):
    with pytest.raises(PacketError) as err:
        encode(advert, src, dst)
    assert err.value.problem is PacketProblem.BAD_FAMILY


def test_v2_checksum_variant_is_reported_as_v2():
    msg = encode(Advert(2, 1, 1, 1), SRC4, GROUP4)
    assert checksum_variant(msg, SRC4, GROUP4) is ChecksumVariant.AS_V2
    assert checksum_variant(msg[:6] + b"\1\1" + msg[8:], SRC4, GROUP4) is None


def test_odd_length_checksum_pads():
    assert internet_checksum(b"\x01") == internet_checksum(b"\x01\x00")
