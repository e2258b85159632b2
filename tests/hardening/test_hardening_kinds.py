"""The attacker's packets (lab.hostile) are what they claim: each broken advert fails the
receive check it is named after, as it would in the seed's master and backup, and the daemon's
demux hands it to the seed's instance (or, too short to name a VRID, to none)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from astlinux_ha.runtime.demux import Demux, Route
from astlinux_ha.vrrp.receive import Peer, Reason, ReceiveParams, Rejected, check
from lab import hostile

A4 = ipaddress.IPv4Address
MASTER, BACKUP, ATTACKER = A4("10.10.50.62"), A4("10.10.50.65"), A4("10.10.50.70")


def seed_params(peer: A4) -> ReceiveParams:
    return ReceiveParams(name="VI_1", vrid=50, version=2, family=4, advert_int=1.0,
                         vips=(hostile.SEED_VIP,), unicast_peers=(Peer(peer),),
                         check_unicast_src=True)


def seed_demux() -> Demux:
    """The demux of a seed box: VI_1, VRID 50 over IPv4 on eth0."""
    demux = Demux()
    demux.reindex([("VI_1", "eth0", socket.AF_INET, 50)])
    return demux


def payload_of(datagram: bytes) -> tuple[A4, A4, int, bytes]:
    return A4(datagram[12:16]), A4(datagram[16:20]), datagram[8], datagram[20:]


@pytest.mark.parametrize("kind", [k for k, (_, counter, _) in hostile.KINDS.items()
                                  if counter not in (None, "short packet")])
@pytest.mark.parametrize(("target", "peer"), [(MASTER, BACKUP), (BACKUP, MASTER)])
def test_each_kind_is_rejected_for_its_reason(kind, target, peer):
    src, dst, ttl, payload = payload_of(hostile.build(kind, ATTACKER, target))
    demux = seed_demux()
    assert demux.packet("eth0", 4, payload) == Route("VI_1")
    assert demux.counters == {}
    result = check(seed_params(peer), payload, src, dst, ttl)
    assert isinstance(result, Rejected), result
    assert result.reason.value == hostile.KINDS[kind][1]


@pytest.mark.parametrize("kind", [k for k, (_, counter, _) in hostile.KINDS.items()
                                  if counter == "short packet"])
def test_packets_too_short_for_a_vrid_never_reach_an_instance(kind):
    src, dst, ttl, payload = payload_of(hostile.build(kind, ATTACKER, MASTER))
    demux = seed_demux()
    assert demux.packet("eth0", 4, payload) == Route()
    assert demux.counters == {"short packet": 1}
    # Were one handed to the instance all the same, its own check drops it unread.
    result = check(seed_params(BACKUP), payload, src, dst, ttl)
    assert isinstance(result, Rejected) and result.reason is Reason.TRUNCATED


def test_forged_adverts_come_from_a_non_peer_with_a_valid_checksum():
    for kind, prio in (("forged-255", 255), ("forged-0", 0)):
        src, dst, ttl, payload = payload_of(hostile.build(kind, ATTACKER, MASTER))
        assert src == hostile.FORGED_SRC and ttl == 255 and payload[2] == prio
        # From a real peer the same bytes would be accepted: only the source check stops them.
        trusting = seed_params(hostile.FORGED_SRC)
        assert not isinstance(check(trusting, payload, src, dst, ttl), Rejected)


def test_the_flood_mix_is_bounded_and_varied():
    mix = hostile.flood_mix(ATTACKER, MASTER)
    assert len(mix) == len(hostile.KINDS) + 32 + 4
    assert all(d[9] == hostile.IPPROTO_VRRP and len(d) >= 20 for d in mix)
