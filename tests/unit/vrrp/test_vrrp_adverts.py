"""An instance's adverts as datagrams: what a fresh encode gives, built once per priority (the
per-advert CPU at 200 instances), bounded, rebuilt when an old keepalived peer asks for its
checksum; with AH every advert new, verifiable, with keepalived's counters."""

from __future__ import annotations

import ipaddress

from astlinux_ha.vrrp import ah
from astlinux_ha.vrrp.adverts import CACHE_LIMIT, Adverts, Datagram
from astlinux_ha.vrrp.model import InstanceParams, Role
from astlinux_ha.vrrp.packet import (
    Advert,
    AuthType,
    ChecksumVariant,
    checksum_variant,
    decode,
    encode,
)
from astlinux_ha.vrrp.receive import MCAST_GROUP4, Peer, ReceiveParams

SRC = ipaddress.IPv4Address("10.10.50.62")
PEERS = (ipaddress.IPv4Address("10.10.50.65"), ipaddress.IPv4Address("10.10.50.66"))
VIP = ipaddress.IPv4Address("10.10.50.244")


def _adverts(version: int = 2, peers=PEERS, auth: AuthType = AuthType.NONE,
             password: bytes = b"", advert_int: float = 1.0) -> Adverts:
    params = InstanceParams(name="VI_1", vrid=50, primary_address=SRC, version=version,
                            advert_int=advert_int, unicast_peers=peers, vips=(VIP,))
    recv = ReceiveParams(name="VI_1", vrid=50, version=version, family=4,
                         advert_int=advert_int, vips=(VIP,), auth_type=auth,
                         auth_password=password, unicast_peers=tuple(Peer(p) for p in peers))
    return Adverts(params, recv, multicast=not peers)


def test_unicast_adverts_are_a_fresh_encode_per_peer():
    adverts = _adverts(auth=AuthType.PASS, password=b"secret")
    want = tuple(
        Datagram(encode(Advert(2, 50, 100, 1, (VIP,), AuthType.PASS, b"secret"), SRC, peer),
                 peer, peer)
        for peer in PEERS
    )
    assert adverts.sends(100).datagrams == want
    assert adverts.sends(100).errors == ()


def test_multicast_adverts_go_to_the_socket_s_group():
    adverts = _adverts(peers=())
    [datagram] = adverts.sends(100).datagrams
    assert datagram == Datagram(encode(Advert(2, 50, 100, 1, (VIP,)), SRC, MCAST_GROUP4),
                                None, MCAST_GROUP4)


def test_v3_carries_the_interval_in_centiseconds():
    adverts = _adverts(version=3, advert_int=0.05)
    payload = adverts.sends(200).datagrams[0].payload
    assert decode(payload, SRC, PEERS[0]) == Advert(3, 50, 200, 5, (VIP,))


def test_a_priority_s_send_plan_is_built_once():
    adverts = _adverts()
    first = adverts.sends(100)
    assert adverts.sends(100) is first
    assert adverts.sends(0).datagrams[0].payload[2] == 0  # another priority, its own plan
    assert adverts.sends(100) is first


def test_the_caches_are_bounded():
    adverts = _adverts()
    first = adverts.sends(1)
    for priority in range(2, CACHE_LIMIT + 2):
        adverts.sends(priority)
    assert adverts.sends(1) is first  # CACHE_LIMIT + 1 plans are kept
    adverts.sends(CACHE_LIMIT + 2)
    again = adverts.sends(1)
    assert again is not first and again == first


def test_the_message_cache_is_bounded_too():
    # AH adverts reuse only the messages: their cache must not grow with the priorities either.
    adverts = _ah(peers=(PEERS[0],))
    first = adverts.payload(1, PEERS[0])
    for priority in range(2, CACHE_LIMIT + 2):
        adverts.payload(priority, PEERS[0])
    assert adverts.payload(1, PEERS[0]) is first
    adverts.payload(CACHE_LIMIT + 2, PEERS[0])
    again = adverts.payload(1, PEERS[0])
    assert again is not first and again == first


def test_an_old_unicast_checksum_peer_gets_adverts_with_its_checksum():
    adverts = _adverts(version=3)
    normal = adverts.sends(100)
    payload = normal.datagrams[0].payload
    assert checksum_variant(payload, SRC, PEERS[0]) is ChecksumVariant.PSEUDO_HEADER
    adverts.peer_uses_old_checksum()
    switched = adverts.sends(100)
    assert switched != normal
    for datagram in switched.datagrams:
        assert datagram.payload == encode(Advert(3, 50, 100, 100, (VIP,)), SRC, datagram.dst,
                                          mcast_group=MCAST_GROUP4)
        assert checksum_variant(datagram.payload, SRC, datagram.dst,
                                mcast_group=MCAST_GROUP4) is ChecksumVariant.MCAST_DST
    adverts.peer_uses_old_checksum()  # told again: the plan stays
    assert adverts.sends(100) is switched


def test_a_target_that_cannot_be_encoded_is_reported_and_the_plan_not_kept():
    v6 = ipaddress.IPv6Address("fd00::65")
    adverts = _adverts(peers=(PEERS[0], v6))
    first = adverts.sends(100)
    assert [d.dst for d in first.datagrams] == [PEERS[0]]
    assert first.errors == ("(VI_1) cannot build advert: source and destination families "
                            "differ",)
    again = adverts.sends(100)
    assert again is not first and again == first  # tried again each interval


def _ah(peers=PEERS) -> Adverts:
    return _adverts(peers=peers, auth=AuthType.AH, password=b"secret12")


def test_ah_adverts_verify_with_the_key_and_count_from_one():
    adverts = _ah()
    assert adverts.ah
    for n in (1, 2):
        datagrams = adverts.sends(100).datagrams
        assert [d.to for d in datagrams] == list(PEERS)
        for d in datagrams:
            packet = ah.split(d.payload)
            assert ah.verify_icv(b"secret12", packet, unicast=True)
            assert not ah.verify_icv(b"other", packet, unicast=True)
            assert packet.seq == n  # one number per advert, whatever the number of peers
            assert int.from_bytes(packet.ip_header[4:6], "big") == n  # the IP ID
            assert packet.src == SRC and packet.spi == int(SRC)
            assert packet.payload == encode(Advert(2, 50, 100, 1, (VIP,), AuthType.AH), SRC,
                                            d.dst)


def test_multicast_ah_adverts_keep_their_ttl_in_the_icv():
    adverts = _ah(peers=())
    [d] = adverts.sends(100).datagrams
    assert d.to is None and d.dst == MCAST_GROUP4
    assert ah.verify_icv(b"secret12", ah.split(d.payload), unicast=False)
    assert not ah.verify_icv(b"secret12", ah.split(d.payload), unicast=True)


def test_ah_reports_an_unencodable_target_and_still_counts_the_advert():
    adverts = _ah(peers=(PEERS[0], ipaddress.IPv6Address("fd00::65")))
    sends = adverts.sends(100)
    assert len(sends.datagrams) == 1 and len(sends.errors) == 1
    assert adverts.seq.seq == 1


def test_a_held_counter_stays_until_the_next_takeover():
    adverts = _ah()
    adverts.seq = ah.SeqCounter(ah.SEQ_HOLD + 1)
    adverts.sends(100)
    assert adverts.seq == ah.SeqCounter(ah.SEQ_HOLD + 1, held=True)
    adverts.became_master()
    adverts.sends(100)
    assert adverts.seq.seq == 1


def test_a_backup_adopts_the_master_s_number_and_drops_the_hold():
    adverts = _ah()
    adverts.seq = ah.SeqCounter(7, held=True)
    adverts.adopt_seq(40, role=Role.BACKUP, priority=100, heard=150, src=PEERS[0])
    assert adverts.seq == ah.SeqCounter(40)


def test_a_master_syncs_past_a_lower_priority_s_number():
    adverts = _ah()
    adverts.adopt_seq(40, role=Role.MASTER, priority=100, heard=50, src=PEERS[0])
    assert adverts.seq == ah.SeqCounter(41)
    # The same priority from a higher address wins the tie: no sync, the hold dropped.
    adverts.seq = ah.SeqCounter(41, held=True)
    adverts.adopt_seq(45, role=Role.MASTER, priority=100, heard=100, src=PEERS[0])
    assert adverts.seq == ah.SeqCounter(45)
    # From a lower address it loses the tie: synced past.
    adverts.adopt_seq(50, role=Role.MASTER, priority=100, heard=100,
                      src=ipaddress.IPv4Address("10.10.50.1"))
    assert adverts.seq == ah.SeqCounter(51)


def test_a_master_only_adopts_the_number_of_an_advert_rejected_after_the_ah_checks():
    adverts = _ah()
    adverts.seq = ah.SeqCounter(7, held=True)
    adverts.adopt_seq(40, role=Role.MASTER, priority=100, heard=None, src=PEERS[0])
    assert adverts.seq == ah.SeqCounter(40, held=True)
