"""VRRPv2 over IPsec AH: codec and ICV against keepalived 2.2.7's own packets, the sequence
number rules, and the receive checks' AH steps in keepalived's order.

The golden packets (data/golden_ah.jsonl) were captured from keepalived in namespaces by
capture_keepalived_ah.sh: whole IPv4 datagrams, "uni" and "mc" from one keepalived (unicast
and multicast, ending with its priority-0 advert), "pair" from two keepalived boxes passing the
mastership (and the sequence number) back and forth through two restarts.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import pathlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from astlinux_ha.vrrp import ah
from astlinux_ha.vrrp.packet import Advert, AuthType, encode
from astlinux_ha.vrrp.receive import Accepted, Peer, Reason, ReceiveParams, Rejected, check

A4 = ipaddress.IPv4Address
VIP = A4("10.10.50.244")
KEY = b"secret12"
DATA = pathlib.Path(__file__).parent / "data"
GOLDEN = [json.loads(line) for line in (DATA / "golden_ah.jsonl").read_text().splitlines()]


def gid(row: dict) -> str:
    packet = ah.split(bytes.fromhex(row["hex"]))
    return f"{row['name']}-{packet.src}-seq{packet.seq}"


def packet_of(row: dict) -> ah.AhPacket:
    return ah.split(bytes.fromhex(row["hex"]))


def params_for(row: dict, **changes) -> ReceiveParams:
    """The receiving side of a golden packet: the other box of the capture."""
    packet = packet_of(row)
    peer = packet.src
    base = ReceiveParams(name="VI_1", vrid=51, version=2, family=4, advert_int=1.0,
                         vips=(VIP,), auth_type=AuthType.AH, auth_password=KEY,
                         unicast_peers=(Peer(peer),) if row["unicast"] else (),
                         check_unicast_src=row["unicast"])
    return dataclasses.replace(base, **changes)


def dst_of(packet: ah.AhPacket) -> A4:
    return A4(packet.ip_header[16:20])


def test_golden_covers_unicast_multicast_and_priority_zero():
    names = {row["name"] for row in GOLDEN}
    assert names == {"uni", "mc", "pair"}
    priorities = {packet_of(r).payload[2] for r in GOLDEN}
    assert {0, 99, 100} <= priorities


@pytest.mark.parametrize("row", GOLDEN, ids=gid)
def test_golden_icv_verifies(row):
    packet = packet_of(row)
    assert packet.next_header == 112
    assert packet.ah[1] == ah.AH_PAYLOAD_LEN
    assert packet.spi == int(packet.src)
    assert ah.verify_icv(KEY, packet, unicast=row["unicast"])
    assert not ah.verify_icv(b"secret13", packet, unicast=row["unicast"])


@pytest.mark.parametrize("row", GOLDEN, ids=gid)
def test_golden_encodes_to_keepalived_bytes(row):
    """From the advert's fields, the IP ID and the sequence number, byte for byte what
    keepalived sent: IP header (TOS 0xC0, no DF, TTL 255, checksum), AH, ICV, VRRP."""
    wire = bytes.fromhex(row["hex"])
    packet = ah.split(wire)
    ip_id = struct.unpack_from("!H", wire, 4)[0]
    advert = Advert(2, 51, packet.payload[2], 1, (VIP,), AuthType.AH)
    vrrp = encode(advert, packet.src, dst_of(packet))
    assert vrrp == packet.payload
    built = ah.build(vrrp, packet.src, dst_of(packet), key=KEY, seq=packet.seq, ip_id=ip_id,
                     unicast=row["unicast"])
    assert built == wire


def test_keepalived_counts_the_ip_id_and_sequence_from_one_per_instance():
    # A fresh keepalived's first advert carries IP ID 1 and sequence number 1, and both go
    # up by one per advert (see the encoder's inputs above).
    for name in ("uni", "mc"):
        rows = [r for r in GOLDEN if r["name"] == name]
        ids = [struct.unpack_from("!H", bytes.fromhex(r["hex"]), 4)[0] for r in rows]
        seqs = [packet_of(r).seq for r in rows]
        assert ids == list(range(1, len(rows) + 1))
        assert seqs == ids


def test_the_pair_passes_one_sequence_number_on_through_restarts():
    """keepalived's pair: the number never goes back, although each box restarted, and
    each restarted box's IP ID started again at 1: a restarted box only sends after it has
    adopted its peer's number (AH clears an initial MASTER state)."""
    rows = [r for r in GOLDEN if r["name"] == "pair"]
    seqs = [packet_of(r).seq for r in rows]
    assert seqs == list(range(1, len(rows) + 1))
    ids = [struct.unpack_from("!H", bytes.fromhex(r["hex"]), 4)[0] for r in rows]
    assert ids.count(1) == 4  # .65 started, .62 joined, .62 restarted, .65 restarted


def test_the_pair_story_through_our_counter_rules():
    """Replay the pair's packets into two counters kept by our rules (each box counts what it
    sends and adopts what it accepts, a restart starts again at 0): every packet keepalived
    sent is what our rules would have sent, and is accepted by the other box."""
    rows = [r for r in GOLDEN if r["name"] == "pair"]
    counters = {"10.10.50.62": ah.SeqCounter(), "10.10.50.65": ah.SeqCounter()}
    for row in rows:
        wire = bytes.fromhex(row["hex"])
        packet = ah.split(wire)
        sender = str(packet.src)
        receiver = next(k for k in counters if k != sender)
        if struct.unpack_from("!H", wire, 4)[0] == 1 and counters[sender].seq >= packet.seq:
            counters[sender] = ah.SeqCounter()  # that box was restarted
        assert counters[receiver].fresh(packet.seq)
        counters[receiver] = counters[receiver].accepted(packet.seq, backup=True)
        counters[sender] = ah.SeqCounter(packet.seq)


def test_icv_ignores_mutable_fields_only():
    row = next(r for r in GOLDEN if r["name"] == "uni")
    wire = bytearray.fromhex(row["hex"])
    wire[1] = 0x00  # TOS
    wire[8] = 64  # TTL, zeroed on unicast
    wire[6:8] = b"\x40\x00"  # DF
    wire[10:12] = b"\xff\xff"  # checksum
    assert ah.verify_icv(KEY, ah.split(bytes(wire)), unicast=True)
    # On multicast the TTL is covered.
    assert not ah.verify_icv(KEY, ah.split(bytes(wire)), unicast=False)


@given(st.integers(min_value=0, max_value=63), st.integers(min_value=1, max_value=255))
def test_icv_covers_every_other_byte(index, flip):
    row = next(r for r in GOLDEN if r["name"] == "mc")
    wire = bytearray.fromhex(row["hex"])
    if index in (1, 6, 7, 10, 11) or 32 <= index < 44 or index == 2 or index == 3:
        return  # mutable fields, the ICV itself, the total length (split() trims by it)
    wire[index] ^= flip
    try:
        packet = ah.split(bytes(wire))
    except ah.AhError:
        return
    assert not ah.verify_icv(KEY, packet, unicast=False)


def test_split_refuses_what_cannot_hold_ah():
    wire = bytes.fromhex(GOLDEN[0]["hex"])
    with pytest.raises(ah.AhError):
        ah.split(wire[:40])
    with pytest.raises(ah.AhError):
        ah.split(b"\x60" + wire[1:])


def test_ip_id_skips_zero():
    assert ah.next_ip_id(0) == 1
    assert ah.next_ip_id(41) == 42
    assert ah.next_ip_id(0xFFFF) == 1


# ---------------------------------------------------------------- sequence number rules


def test_counter_sends_one_more_and_holds_at_the_limit():
    assert ah.SeqCounter().to_send() == ah.SeqCounter(1)
    near = ah.SeqCounter(ah.SEQ_HOLD)
    assert near.to_send() == ah.SeqCounter(ah.SEQ_HOLD + 1)
    held = near.to_send().to_send()
    assert held == ah.SeqCounter(ah.SEQ_HOLD + 1, True)
    assert held.to_send() == held  # never wraps to a number a receiver would take as old
    assert held.became_master() == ah.SeqCounter()
    assert ah.SeqCounter(7).became_master() == ah.SeqCounter(7)


def test_counter_refuses_replays_and_adopts_fresh_numbers():
    c = ah.SeqCounter(10)
    assert not c.fresh(10) and not c.fresh(3) and c.fresh(11)
    assert c.accepted(15, backup=False) == ah.SeqCounter(15)
    held = ah.SeqCounter(10, True)
    assert held.accepted(11, backup=True) == ah.SeqCounter(11, False)
    assert held.accepted(11, backup=False) == ah.SeqCounter(11, True)


def test_master_syncs_past_a_lower_priority_and_drops_the_hold_for_a_higher():
    c = ah.SeqCounter(20, True)
    assert ah.master_heard(c, 20, 99, 100, sender_above=True) == ah.SeqCounter(21)
    assert ah.master_heard(c, 20, 100, 100, sender_above=False) == ah.SeqCounter(21)
    assert ah.master_heard(c, 20, 100, 100, sender_above=True) == ah.SeqCounter(20)
    assert ah.master_heard(c, 20, 101, 100, sender_above=False) == ah.SeqCounter(20)
    assert ah.master_heard(c, 20, 0, 100, sender_above=False) == c


# ---------------------------------------------------------------- receive checks


def first(name: str) -> dict:
    return next(r for r in GOLDEN if r["name"] == name)


def receive(row: dict, params: ReceiveParams | None = None, counter: ah.SeqCounter | None = None,
            wire: bytes | None = None):
    wire = wire if wire is not None else bytes.fromhex(row["hex"])
    packet = ah.split(wire)
    return check(params or params_for(row), packet.payload, packet.src, dst_of(packet),
                 wire[8], ah=packet, ah_counter=counter or ah.SeqCounter())


@pytest.mark.parametrize("name", ["uni", "mc"])
def test_keepalived_advert_is_accepted_and_its_number_adopted(name):
    row = first(name)
    verdict = receive(row)
    assert isinstance(verdict, Accepted), verdict
    assert verdict.advert.auth_type is AuthType.AH
    assert verdict.ah_seq == packet_of(row).seq


def test_wrong_key_is_an_auth_failure():
    verdict = receive(first("uni"), params_for(first("uni"), auth_password=b"secret13"))
    assert isinstance(verdict, Rejected)
    assert verdict.reason is Reason.AUTH_FAILURE and verdict.ah_seq is None
    assert "invalid IPSEC HMAC-MD5 value" in verdict.finding.message


def test_replay_is_refused():
    row = first("uni")
    verdict = receive(row, counter=ah.SeqCounter(packet_of(row).seq))
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.AH_REPLAY
    assert verdict.finding.message == (
        "(VI_1) IPSEC-AH : sequence number 1 already processed. Packet dropped. Local(1) "
        "(from 10.10.50.62)")


def test_plain_advert_at_an_ah_instance_is_an_auth_type_mismatch():
    # Auth type 2 in a protocol-112 packet: what a forger without the AH header sends.
    vrrp = encode(Advert(2, 51, 255, 1, (VIP,), AuthType.AH), A4("10.10.50.62"),
                  A4("10.10.50.65"))
    verdict = check(params_for(first("uni")), vrrp, A4("10.10.50.62"), A4("10.10.50.65"), 255)
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.AUTH_TYPE_MISMATCH
    assert "No AH header but auth type is AH" in verdict.finding.message


def test_ah_at_an_instance_without_ah_is_an_auth_type_mismatch():
    row = first("uni")
    verdict = receive(row, params_for(row, auth_type=AuthType.NONE, auth_password=b""))
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.AUTH_TYPE_MISMATCH
    assert "Received AH header but auth type not AH" in verdict.finding.message


def forged(*, next_header: int = 112, spi: int | None = None, priority: int = 255,
           interval: int = 1, key: bytes = KEY) -> bytes:
    src, dst = A4("10.10.50.62"), A4("10.10.50.65")
    vrrp = encode(Advert(2, 51, priority, interval, (VIP,), AuthType.AH), src, dst)
    wire = bytearray(ah.build(vrrp, src, dst, key=key, seq=5, ip_id=5, unicast=True))
    wire[20] = next_header
    if spi is not None:
        wire[24:28] = struct.pack("!I", spi)
    packet = ah.split(bytes(wire))
    wire[32:44] = ah.icv(key, packet.ip_header, packet.ah, packet.payload, unicast=True)
    return bytes(wire)


def test_ah_for_another_protocol_is_dropped():
    verdict = receive(first("uni"), wire=forged(next_header=6))
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.AH_NEXT_HEADER


def test_spi_other_than_the_source_is_refused_after_the_icv():
    verdict = receive(first("uni"), wire=forged(spi=0x01020304))
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.AH_SPI
    # A wrong key is found first: nothing in the packet is trusted before the ICV.
    verdict = receive(first("uni"), wire=forged(spi=0x01020304, key=b"other"))
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.AUTH_FAILURE


def test_interval_mismatch_comes_after_ah_and_still_adopts_the_number():
    verdict = receive(first("uni"), wire=forged(interval=2))
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.INTERVAL_MISMATCH
    assert verdict.ah_seq == 5
    verdict = receive(first("uni"), wire=forged(interval=2, key=b"other"))
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.AUTH_FAILURE


def test_length_counts_the_ah_header():
    row = first("uni")
    wire = bytes.fromhex(row["hex"])
    packet = ah.split(wire)
    verdict = check(params_for(row), packet.payload[:-4], packet.src, dst_of(packet), 255,
                    ah=packet)
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.LENGTH
    assert verdict.finding.message.endswith("too short, length 60 and expect 64")


def test_multicast_ttl_is_checked_before_ah():
    row = first("mc")
    wire = bytearray.fromhex(row["hex"])
    wire[8] = 254
    verdict = receive(row, wire=bytes(wire))
    assert isinstance(verdict, Rejected) and verdict.reason is Reason.TTL


# ---------------------------------------------------------------- from the config


def instance_conf(extra: str) -> str:
    return ("vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 50\n"
            "  priority 100\n  advert_int 1\n" + extra +
            "  authentication {\n    auth_type AH\n    auth_pass secret12\n  }\n"
            "  virtual_ipaddress {\n    10.10.50.244\n  }\n}\n")


@pytest.mark.parametrize(("extra", "protocol", "auth"), [
    ("", ah.IPPROTO_AH, AuthType.AH),
    ("  unicast_src_ip 10.10.50.62\n  unicast_peer {\n    10.10.50.65\n  }\n", ah.IPPROTO_AH,
     AuthType.AH),
    # keepalived ignores authentication for v3 and strict mode: a plain socket, no AH
    ("  version 3\n", 112, AuthType.NONE),
    ("  strict_mode\n", 112, AuthType.NONE),
])
def test_ah_instance_gets_a_protocol_51_socket(extra, protocol, auth):
    from astlinux_ha.config import check_text
    from astlinux_ha.runtime import plan as params

    config = check_text(instance_conf(extra)).config
    inst = config.instances[0]
    key = params.socket_key(inst, A4("10.10.50.62"))
    assert key.protocol == protocol
    recv = params.receive_params(config, params.plan(config, inst, frozenset()))
    assert recv.auth_type is auth
    if auth is AuthType.AH:
        assert recv.auth_password == KEY


def test_a_peer_at_the_last_sequence_number_leaves_us_able_to_send():
    counter = ah.SeqCounter(5).heard_lower_priority(0xFFFFFFFF).to_send()
    assert counter.seq == 0xFFFFFFFF and counter.held
    # The send path packs it into the 32-bit field without error.
    packet = ah.build(b"\x21" + bytes(19), ipaddress.IPv4Address("10.0.0.1"),
                      ipaddress.IPv4Address("10.0.0.2"), key=b"secret12", seq=counter.seq,
                      ip_id=1, unicast=True)
    assert packet[20 + 8:20 + 12] == b"\xff\xff\xff\xff"
