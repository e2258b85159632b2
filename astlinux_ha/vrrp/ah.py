"""VRRPv2 over IPsec AH, as keepalived speaks it (``authentication { auth_type AH }``).

keepalived (and RFC 2338's AH option) sends IP protocol 51 with the IP header built by the
daemon itself: an AH header (next header 112, payload length 4, SPI = the source address, a
sequence number) in front of an ordinary VRRPv2 advert whose auth type is 2 and auth data zero.
The ICV is HMAC-MD5 keyed with ``auth_pass``, truncated to 96 bits, over the IP header with
its mutable fields zeroed (TOS, fragment offset, checksum, and the TTL on unicast, where
routers may lower it), the AH header with the ICV zeroed, and the VRRP message.

The sequence number is one counter per instance, used both ways: a box sends its counter plus
one, and accepts only a number above it, adopting that number. A backup therefore always
knows the master's number, and on taking over it carries on from there (keepalived refuses an
initial MASTER state with AH for this reason: a fresh box would start again from 1). The
counter rules are :class:`SeqCounter`'s. Everything here is pure.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from .packet import IPPROTO_VRRP

IPPROTO_AH = 51
AH_LEN = 24  # next header, payload length, reserved, SPI, sequence number, 96-bit ICV
AH_PAYLOAD_LEN = 4  # RFC 2402: the AH length in 32-bit words, minus 2
ICV_LEN = 12
IPV4_HEADER_LEN = 20
VRRP_TOS = 0xC0
VRRP_TTL = 255
# keepalived stops counting here and holds the number: at one advert a second that is 136
# years away, but a forged-looking wrap to 0 must never be sent.
SEQ_HOLD = 0xFFFFFFFD
SEQ_MAX = 0xFFFFFFFF


class AhError(ValueError):
    """Bytes that cannot be an AH-carried advert (too short, not IPv4)."""


@dataclass(frozen=True, slots=True)
class AhPacket:
    """An IPv4 datagram carrying AH, split: the IP header as received (options included),
    the 24 AH bytes, and what follows them (the VRRP message)."""

    ip_header: bytes
    ah: bytes
    payload: bytes

    @property
    def next_header(self) -> int:
        """The protocol the AH header protects (112 for VRRP)."""
        return self.ah[0]

    @property
    def spi(self) -> int:
        """The Security Parameters Index (keepalived: the sender's address)."""
        spi: int = struct.unpack_from("!I", self.ah, 4)[0]
        return spi

    @property
    def seq(self) -> int:
        """The sequence number."""
        seq: int = struct.unpack_from("!I", self.ah, 8)[0]
        return seq

    @property
    def icv(self) -> bytes:
        """The 96-bit integrity check value as received."""
        return self.ah[12:AH_LEN]

    @property
    def src(self) -> ipaddress.IPv4Address:
        """The IP source address."""
        return ipaddress.IPv4Address(self.ip_header[12:16])


def split(datagram: bytes) -> AhPacket:
    """Split a whole IPv4 datagram (as a raw socket delivers it) into IP header, AH, rest.

    The rest ends where the IP total length says (Ethernet padding is not part of it).
    Raises :class:`AhError` if the datagram cannot hold an IP header and an AH header.
    """
    if len(datagram) < IPV4_HEADER_LEN or datagram[0] >> 4 != 4:
        raise AhError("not an IPv4 datagram")
    ihl = (datagram[0] & 0x0F) * 4
    total = struct.unpack_from("!H", datagram, 2)[0]
    end = min(total, len(datagram))
    if ihl < IPV4_HEADER_LEN or end < ihl + AH_LEN:
        raise AhError(f"{end} bytes cannot hold an IP header of {ihl} and AH")
    return AhPacket(bytes(datagram[:ihl]), bytes(datagram[ihl : ihl + AH_LEN]),
                    bytes(datagram[ihl + AH_LEN : end]))


def _immutable(ip_header: bytes, unicast: bool) -> bytes:
    # RFC 2402 3.3.3.1.1.1: what a router may change on the way is zeroed. keepalived zeroes
    # the TTL only on unicast, where the adverts may be routed; multicast ones carry 255.
    head = bytearray(ip_header)
    head[1] = 0
    head[6:8] = b"\0\0"
    head[10:12] = b"\0\0"
    if unicast:
        head[8] = 0
    return bytes(head)


def load_crypto() -> None:
    """Import hmac (and so libcrypto) now. The module does not at import time: the mapping
    costs ~4 MiB that only AH instances need (astlinux_ha.no_tls); an AH instance calls this
    when it is built, so the import is not paid on its first advert's clock."""
    import hmac  # noqa: F401


def icv(key: bytes, ip_header: bytes, ah: bytes, payload: bytes, *, unicast: bool) -> bytes:
    """The 96-bit HMAC-MD5 ICV of a datagram (the ICV field of ``ah`` is ignored).

    ``key`` is the auth_pass as keepalived holds it (at most 8 bytes; HMAC pads with zeros, so
    the zero padding keepalived stores changes nothing).
    """
    import hmac  # not at the top: see load_crypto

    zeroed = ah[:12] + bytes(ICV_LEN)
    mac = hmac.new(key, _immutable(ip_header, unicast) + zeroed + payload, "md5")
    return mac.digest()[:ICV_LEN]


def verify_icv(key: bytes, packet: AhPacket, *, unicast: bool) -> bool:
    """True when the packet's ICV is the one ``key`` gives (compared in constant time)."""
    import hmac

    want = icv(key, packet.ip_header, packet.ah, packet.payload, unicast=unicast)
    return hmac.compare_digest(want, packet.icv)


def ipv4_checksum(header: bytes) -> int:
    """The IPv4 header checksum of ``header`` (its checksum field taken as zero)."""
    data = header[:10] + b"\0\0" + header[12:]
    words: tuple[int, ...] = struct.unpack(f"!{len(data) // 2}H", data)
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build(
    vrrp: bytes,
    src: ipaddress.IPv4Address,
    dst: ipaddress.IPv4Address,
    *,
    key: bytes,
    seq: int,
    ip_id: int,
    unicast: bool,
    ttl: int = VRRP_TTL,
) -> bytes:
    """The whole IPv4 datagram keepalived sends for the VRRP message ``vrrp``.

    TOS 0xC0, no DF bit, the given IP ID (keepalived counts it per instance from 1, and
    never sends 0, which the kernel would replace), protocol 51, AH with the SPI set to
    ``src`` and ``seq``, the ICV filled in, and the IP checksum the kernel would put there
    (it recomputes it anyway on an IP_HDRINCL socket).
    """
    total = IPV4_HEADER_LEN + AH_LEN + len(vrrp)
    head = struct.pack("!BBHHHBBH4s4s", 0x45, VRRP_TOS, total, ip_id, 0, ttl, IPPROTO_AH, 0,
                       src.packed, dst.packed)
    ah = struct.pack("!BBHII", IPPROTO_VRRP, AH_PAYLOAD_LEN, 0, int(src), seq)
    ah += icv(key, head, ah, vrrp, unicast=unicast)
    head = head[:10] + struct.pack("!H", ipv4_checksum(head)) + head[12:]
    return head + ah + vrrp


def next_ip_id(ip_id: int) -> int:
    """The IP ID after ``ip_id``: 16 bits, skipping 0 (the kernel would fill a 0 in itself)."""
    return ip_id % 0xFFFF + 1


@dataclass(frozen=True, slots=True)
class SeqCounter:
    """An instance's AH sequence number, keepalived's rules (``ipsecah_counter``).

    ``seq`` is the last number sent or accepted; ``held`` is keepalived's ``cycle`` flag: the
    counter reached :data:`SEQ_HOLD` and stays there until this box next becomes master.
    """

    seq: int = 0
    held: bool = False

    def to_send(self) -> SeqCounter:
        """The counter for the next advert: one more, or held at the limit."""
        if self.seq > SEQ_HOLD:
            return SeqCounter(self.seq, True)
        return SeqCounter(self.seq + 1, self.held)

    def fresh(self, seq: int) -> bool:
        """True when ``seq`` is above the counter: not a replay."""
        return seq > self.seq

    def accepted(self, seq: int, *, backup: bool) -> SeqCounter:
        """The counter after a packet with a valid ICV and a fresh ``seq``; a backup that
        hears a master again also drops the hold."""
        return SeqCounter(seq, False if backup else self.held)

    def became_master(self) -> SeqCounter:
        """Taking over starts again from 0 only when the counter was held at the limit."""
        return SeqCounter() if self.held else self

    def heard_lower_priority(self, seq: int) -> SeqCounter:
        """A master hearing a lower-priority advert moves past that sender's number, so its
        own next advert is fresh to it (keepalived's "Syncing seq_num"). Never past the
        32-bit field: a peer at 0xFFFFFFFF leaves us held there, not unable to send."""
        return SeqCounter(min(seq + 1, SEQ_MAX), False)

    def heard_higher_priority(self) -> SeqCounter:
        """A master giving way to a higher priority drops the hold."""
        return SeqCounter(self.seq, False)


def master_heard(
    counter: SeqCounter, seq: int, priority: int, own_priority: int, sender_above: bool
) -> SeqCounter:
    """The counter of a master after it accepted an advert with ``seq`` and ``priority``.

    ``sender_above`` is whether the sender's address is above ours (the tie-break). A
    priority-0 advert changes nothing; a lower one (or an equal one from a lower address)
    makes the master sync past it; a higher one drops the hold, as keepalived's
    ``vrrp_state_master_rx`` does.
    """
    if priority == 0:
        return counter
    if priority < own_priority or (priority == own_priority and not sender_above):
        return counter.heard_lower_priority(seq)
    return counter.heard_higher_priority()
