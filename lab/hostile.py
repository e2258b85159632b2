"""Hostile VRRP traffic: junk and forged adverts, sent from an attacker box in the lab.

The packets are whole IPv4 datagrams sent through an ``IPPROTO_RAW`` socket (the header is
ours, so the source can be forged and the TTL chosen; the kernel only fills in the total length
and the header checksum). :data:`KINDS` names each broken advert and the receive-check counter
(``astlinux_ha.vrrp.receive.Reason``) it must land in when it reaches a daemon of the seed
(VRID 50, VRRPv2, advert_int 1, unicast with ``vrrp_check_unicast_src``).

Run inside a box (``python -m lab.hostile``, cwd the repo) to send::

    python -m lab.hostile --dst 10.10.50.62 --kind forged-255 --count 20
    python -m lab.hostile --dst 10.10.50.62 --flood --rate 10000 --seconds 10

A flood cycles through every kind (plus random VRIDs) at ``--rate`` packets per second for
``--seconds``, never more than ``rate * seconds`` packets, and prints one JSON line with the
counts it sent.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import socket
import struct
import sys
import time
from collections.abc import Callable

from astlinux_ha.vrrp.packet import Advert, AuthType, encode

IPPROTO_VRRP = 112
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
SEED_VRID = 50
SEED_VIP = ipaddress.IPv4Address("10.10.50.244")
# Not a unicast_peer of either seed box: what a forged advert claims to come from.
FORGED_SRC = ipaddress.IPv4Address("10.10.50.99")

Addr = ipaddress.IPv4Address


def ip_datagram(src: Addr, dst: Addr, payload: bytes, ttl: int = 255) -> bytes:
    """An IPv4 header (protocol 112, TOS 0xC0, no options) followed by ``payload``."""
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(payload), 0, 0, ttl,
                         IPPROTO_VRRP, 0, src.packed, dst.packed)
    return header + payload


def _advert(version: int = 2, priority: int = 100, interval: int = 1, vrid: int = SEED_VRID,
            count: int | None = None) -> Advert:
    addrs = (SEED_VIP,) if count is None else tuple(
        Addr(int(SEED_VIP) + i) for i in range(count))
    return Advert(version=version, vrid=vrid, priority=priority, interval=interval,
                  addresses=addrs, auth_type=AuthType.NONE)


def _good(src: Addr, dst: Addr, **kw) -> bytes:
    return encode(_advert(**kw), src, dst)


def _fix_v2_checksum(body: bytes) -> bytes:
    from astlinux_ha.vrrp.packet import internet_checksum

    zeroed = body[:6] + b"\0\0" + body[8:]
    return body[:6] + struct.pack("!H", internet_checksum(zeroed)) + body[8:]


def _wrong_type(src: Addr, dst: Addr) -> bytes:
    body = bytearray(_good(src, dst))
    body[0] = 0x22  # version 2, type 2
    return _fix_v2_checksum(bytes(body))


def _bad_checksum(src: Addr, dst: Addr) -> bytes:
    body = bytearray(_good(src, dst))
    body[6] ^= 0x5A
    return bytes(body)


def _count_mismatch(src: Addr, dst: Addr) -> bytes:
    body = bytearray(_good(src, dst))
    body[3] = 3  # says three addresses, carries one
    return _fix_v2_checksum(bytes(body))


_RNG = random.Random(9)


def _random_bytes(_src: Addr, _dst: Addr) -> bytes:
    body = bytearray(_RNG.randbytes(_RNG.randrange(2, 64)))
    body[1] = SEED_VRID  # aimed at the seed's instance, so it meets the receive checks
    return bytes(body)


# kind -> (builder(src, dst) -> VRRP payload, counter it lands in, forged source?)
# Counters are the receive-check reasons of astlinux_ha.vrrp.receive, or the supervisor's
# "not dispatched" counter for what is too short to carry a VRID. random-bytes lands anywhere.
KINDS: dict[str, tuple[Callable[[Addr, Addr], bytes], str | None, bool]] = {
    "empty": (lambda s, d: b"", "short packet", False),
    "one-byte": (lambda s, d: b"\x21", "short packet", False),
    "truncated": (lambda s, d: _good(s, d)[:6], "truncated", False),
    "random-bytes": (_random_bytes, None, False),
    "wrong-version": (lambda s, d: _good(s, d, version=3, interval=100), "version", False),
    "wrong-type": (_wrong_type, "type", False),
    "bad-checksum": (_bad_checksum, "checksum", False),
    "count-mismatch": (_count_mismatch, "length", False),
    "wrong-interval": (lambda s, d: _good(s, d, interval=2), "interval mismatch", False),
    "forged-255": (lambda s, d: _good(s, d, priority=255), "unicast source", True),
    "forged-0": (lambda s, d: _good(s, d, priority=0), "unicast source", True),
}


def build(kind: str, src: Addr, dst: Addr) -> bytes:
    """The whole IP datagram of ``kind`` aimed at ``dst`` (forged kinds come from .99)."""
    make, _counter, forged = KINDS[kind]
    sender = FORGED_SRC if forged else src
    return ip_datagram(sender, dst, make(sender, dst))


def flood_mix(src: Addr, dst: Addr, seed: int = 1) -> list[bytes]:
    """One cycle of the flood: every kind, random junk, and adverts for VRIDs we do not run."""
    rng = random.Random(seed)
    packets = [build(kind, src, dst) for kind in KINDS]
    for _ in range(32):
        body = bytearray(rng.randbytes(rng.randrange(0, 80)))
        packets.append(ip_datagram(src, dst, bytes(body)))
    for vrid in (1, 49, 51, 255):
        packets.append(ip_datagram(FORGED_SRC, dst, _good(FORGED_SRC, dst, vrid=vrid,
                                                          priority=255)))
    rng.shuffle(packets)
    return packets


def open_socket(ifname: str = "eth0") -> socket.socket:
    """A raw socket that sends our own IPv4 headers out of ``ifname`` (multicast too)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, ifname.encode())
    ifindex = socket.if_nametoindex(ifname)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                    bytes(4) + bytes(4) + struct.pack("@i", ifindex))
    return sock


def send_all(sock: socket.socket, packets: list[bytes], dst: Addr) -> int:
    """Send each datagram once; the number sent."""
    sent = 0
    for pkt in packets:
        try:
            sock.sendto(pkt, (str(dst), 0))
            sent += 1
        except OSError:
            pass
    return sent


def flood(sock: socket.socket, packets: list[bytes], dst: Addr, rate: float,
          seconds: float) -> dict:
    """Send ``packets`` round-robin at ``rate`` per second for ``seconds`` (bounded both ways)."""
    limit = int(rate * seconds)
    start = time.monotonic()
    sent = errors = i = 0
    chunk = max(1, int(rate / 1000))  # ~1 ms of packets per burst
    while i < limit:
        now = time.monotonic()
        if now - start >= seconds:
            break
        due = min(limit, int((now - start) * rate) + chunk)
        while i < due:
            try:
                sock.sendto(packets[i % len(packets)], (str(dst), 0))
                sent += 1
            except OSError:
                errors += 1
            i += 1
        time.sleep(0.001)
    took = time.monotonic() - start
    return {"sent": sent, "errors": errors, "seconds": round(took, 3),
            "rate": round(sent / took, 1) if took else 0.0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.hostile", description=__doc__.splitlines()[0])
    p.add_argument("--src", default=None, help="our address (default: eth0's)")
    p.add_argument("--dst", required=True, action="append", help="repeatable")
    p.add_argument("--kind", choices=[*sorted(KINDS), "all"])
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--flood", action="store_true")
    p.add_argument("--rate", type=float, default=10_000)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--ifname", default="eth0")
    args = p.parse_args(argv)
    targets = [Addr(d) for d in args.dst]
    src = Addr(args.src) if args.src else _own_address(args.ifname)
    sock = open_socket(args.ifname)
    if args.flood:
        dst = targets[0]
        result = flood(sock, flood_mix(src, dst), dst, args.rate, min(args.seconds, 60.0))
    else:
        if not args.kind:
            p.error("--kind or --flood")
        kinds = sorted(KINDS) if args.kind == "all" else [args.kind]
        result = {}
        for dst in targets:
            for kind in kinds:
                # a few per millisecond at most: this is not the flood
                sent = 0
                for _ in range(args.count):
                    sent += send_all(sock, [build(kind, src, dst)], dst)
                    time.sleep(0.0005)
                result[f"{dst} {kind}"] = sent
    print(json.dumps(result), flush=True)
    return 0


def _own_address(ifname: str) -> Addr:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=ifname)[0]
        for msg in ipr.get_addr(index=idx, family=socket.AF_INET):
            return Addr(msg.get("IFA_ADDRESS"))
    raise SystemExit(f"no IPv4 address on {ifname}")


if __name__ == "__main__":
    sys.exit(main())

