"""Fuzzing the codec and the receive checks: whatever bytes arrive, ``decode`` raises nothing
but PacketError and ``check`` answers Accepted or Rejected.

Hypothesis draws a base message (valid adverts of both versions and families, with random
fields) and a mutation seed; each example then derives MUTANTS packets from it (bit flips,
byte overwrites, truncation, extension, header-field rewrites with and without a fixed
checksum, pure noise), so a CI run feeds well over 100 000 packets through both in seconds.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import random
import struct
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astlinux_ha.vrrp.packet import Advert, AuthType, PacketError, decode, encode, internet_checksum
from astlinux_ha.vrrp.receive import Accepted, Peer, ReceiveParams, Rejected, check

A4, A6 = ipaddress.IPv4Address, ipaddress.IPv6Address
MUTANTS = 60
EXAMPLES = 2000
WANT_PACKETS = 100_000
GROUP4, GROUP6 = A4("224.0.0.18"), A6("ff02::12")
PEER4, ME4 = A4("10.10.50.62"), A4("10.10.50.65")
PEER6, ME6 = A6("fe80::62"), A6("fe80::65")

P4 = ReceiveParams(name="VI_1", vrid=50, version=2, family=4, advert_int=1.0,
                   vips=(A4("10.10.50.244"),), unicast_peers=(Peer(PEER4),),
                   check_unicast_src=True)
PARAMS = (
    P4,
    dataclasses.replace(P4, unicast_peers=(), check_unicast_src=False),
    dataclasses.replace(P4, version=3, unicast_peers=(Peer(PEER4, 250, 255),)),
    dataclasses.replace(P4, auth_type=AuthType.PASS, auth_password=b"secret"),
    dataclasses.replace(P4, version=3, checksum_as_v2=True, skip_check_adv_addr=True),
    ReceiveParams(name="VI_6", vrid=50, version=3, family=6, advert_int=0.05,
                  vips=(A6("fd00::244"),)),
)

counted = {"packets": 0}


@st.composite
def base_messages(draw):
    family = draw(st.sampled_from((4, 6)))
    version = 3 if family == 6 else draw(st.sampled_from((2, 3)))
    make = A4 if family == 4 else A6
    bits = 32 if family == 4 else 128
    addrs = tuple(make(draw(st.integers(0, 2**bits - 1)))
                  for _ in range(draw(st.integers(0, 6))))
    top = 255 if version == 2 else 0x0FFF
    auth = draw(st.sampled_from(list(AuthType))) if version == 2 else AuthType.NONE
    advert = Advert(version=version, vrid=draw(st.sampled_from((50, 1, 255, 49))),
                    priority=draw(st.integers(0, 255)), interval=draw(st.integers(1, top)),
                    addresses=addrs, auth_type=auth,
                    auth_data=draw(st.binary(max_size=8)) if version == 2 else b"")
    src, dst = (PEER4, draw(st.sampled_from((ME4, GROUP4)))) if family == 4 else (
        PEER6, draw(st.sampled_from((ME6, GROUP6))))
    return family, src, dst, encode(advert, src, dst)


def refix(msg: bytearray) -> bytes:
    msg[6:8] = b"\0\0"
    if len(msg) >= 8:
        msg[6:8] = struct.pack("!H", internet_checksum(bytes(msg)))
    return bytes(msg)


def mutate(base: bytes, rng: random.Random) -> bytes:
    msg = bytearray(base)
    op = rng.randrange(8)
    if op == 0 and msg:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(msg))
            msg[i] ^= 1 << rng.randrange(8)
    elif op == 1 and msg:
        msg[rng.randrange(len(msg))] = rng.randrange(256)
    elif op == 2:
        del msg[rng.randrange(len(msg) + 1):]
    elif op == 3:
        msg += rng.randbytes(rng.randint(1, 40))
    elif op == 4 and len(msg) >= 8:
        msg[rng.choice((0, 2, 3, 4, 5))] = rng.randrange(256)  # a header field, checksum fixed
        return refix(msg)
    elif op == 5 and len(msg) >= 4:
        msg[3] = rng.randrange(256)  # address count against the length
        return refix(msg)
    elif op == 6:
        return rng.randbytes(rng.randrange(0, 120))
    return bytes(msg)


DECODE_OPTIONS = ({}, {"checksum_as_v2": True}, {"mcast_group": GROUP4},
                  {"verify_checksum": False})
TTLS = (255, 255, 64, None)


def feed(family: int, src, dst, payload: bytes, rng: random.Random) -> None:
    options = dict(rng.choice(DECODE_OPTIONS))
    if family == 6 and "mcast_group" in options:
        options["mcast_group"] = GROUP6
    try:
        decode(payload, src, dst, **options)
    except PacketError:
        pass
    ttl = rng.choice(TTLS)
    for params in PARAMS:
        if params.family == family:
            result = check(params, payload, src, dst, ttl, master=src)
            assert isinstance(result, Accepted | Rejected), result
    counted["packets"] += 1


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(base=base_messages(), seed=st.integers(0, 2**32 - 1))
def fuzz_one(base, seed):
    family, src, dst, msg = base
    rng = random.Random(seed)
    feed(family, src, dst, msg, rng)
    for _ in range(MUTANTS):
        feed(family, src, dst, mutate(msg, rng), rng)


def test_decode_and_check_survive_100k_hostile_packets():
    counted["packets"] = 0
    started = time.monotonic()
    fuzz_one()
    took = time.monotonic() - started
    assert counted["packets"] >= WANT_PACKETS, counted
    assert took < 60, f"{counted['packets']} packets took {took:.1f}s"
