"""VRRP messages as bytes and back: v2 (RFC 3768) and v3 (RFC 5798), IPv4 and IPv6.

Only the VRRP message is handled; the kernel builds and strips the IP header of a raw
IPPROTO_VRRP socket. The source and destination addresses are still needed, for the v3
pseudo-header checksum. Nothing but :class:`PacketError` leaves :func:`decode`, whatever bytes
it is given, so a receive loop needs exactly one ``except``.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPPROTO_VRRP = 112
TYPE_ADVERT = 1
HEADER_LEN = 8
AUTH_LEN = 8  # VRRPv2 authentication data, IPv4 only
V3_INTERVAL_MASK = 0x0FFF  # the top 4 bits of the v3 interval field are reserved


class AuthType(enum.IntEnum):
    """VRRPv2 authentication type numbers (RFC 2338; keepalived still speaks all three)."""

    NONE = 0
    PASS = 1
    AH = 2


class ChecksumVariant(enum.Enum):
    """How a VRRPv3-over-IPv4 checksum is computed.

    PSEUDO_HEADER is RFC 5798. AS_V2 is keepalived's ``v3_checksum_as_v2`` (no pseudo-header,
    the RFC 9568 reading). MCAST_DST is what keepalived before 2.0.x sent on unicast: the
    pseudo-header with the multicast group in place of the real destination.
    """

    PSEUDO_HEADER = "pseudo-header"
    AS_V2 = "as-v2"
    MCAST_DST = "mcast-dst"


class PacketProblem(enum.Enum):
    """Why bytes are not a valid VRRP advertisement (machine-readable, for counters)."""

    TRUNCATED = "truncated"
    BAD_VERSION = "bad version"
    BAD_TYPE = "bad type"
    BAD_LENGTH = "bad length"
    BAD_CHECKSUM = "bad checksum"
    BAD_AUTH_TYPE = "bad auth type"
    BAD_VRID = "bad vrid"
    BAD_PRIORITY = "bad priority"
    BAD_INTERVAL = "bad interval"
    BAD_ADDRESS = "bad address"
    BAD_FAMILY = "bad family"


class PacketError(ValueError):
    """The one error :func:`decode` raises; ``problem`` says why, ``str()`` says it for humans."""

    def __init__(self, problem: PacketProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Advert:
    """One VRRP advertisement.

    ``interval`` is in the version's wire unit: whole seconds for v2, centiseconds for v3
    (:attr:`interval_seconds` converts). For v2, ``auth_data`` is always the 8 bytes on the
    wire (a shorter password is zero-padded); v3 has no authentication.
    """

    version: int
    vrid: int
    priority: int
    interval: int
    addresses: tuple[IPAddress, ...] = ()
    auth_type: AuthType = AuthType.NONE
    auth_data: bytes = b""

    def __post_init__(self) -> None:
        if self.version not in (2, 3):
            raise PacketError(PacketProblem.BAD_VERSION,
                              f"VRRP version {self.version} is not 2 or 3")
        if not 1 <= self.vrid <= 255:
            raise PacketError(PacketProblem.BAD_VRID, f"VRID {self.vrid} is not in 1..255")
        if not 0 <= self.priority <= 255:
            raise PacketError(PacketProblem.BAD_PRIORITY, f"priority {self.priority} not in 0..255")
        top = 255 if self.version == 2 else V3_INTERVAL_MASK
        if not 1 <= self.interval <= top:
            raise PacketError(PacketProblem.BAD_INTERVAL,
                              f"interval {self.interval} not in 1..{top}")
        if len(self.addresses) > 255:
            raise PacketError(PacketProblem.BAD_ADDRESS, "more than 255 addresses")
        if len({a.version for a in self.addresses}) > 1:
            raise PacketError(PacketProblem.BAD_FAMILY, "addresses mix IPv4 and IPv6")
        if self.version == 3:
            if self.auth_type is not AuthType.NONE or self.auth_data:
                raise PacketError(PacketProblem.BAD_AUTH_TYPE, "VRRPv3 has no authentication")
            return
        if len(self.auth_data) > AUTH_LEN:
            raise PacketError(PacketProblem.BAD_AUTH_TYPE, "VRRPv2 auth data is at most 8 bytes")
        object.__setattr__(self, "auth_type", AuthType(self.auth_type))
        object.__setattr__(self, "auth_data", self.auth_data.ljust(AUTH_LEN, b"\0"))

    @property
    def interval_seconds(self) -> float:
        """The advertisement interval in seconds, whatever the version."""
        return float(self.interval) if self.version == 2 else self.interval / 100


def message_length(version: int, ip_version: int, count: int) -> int:
    """Bytes in a VRRP message with ``count`` addresses (v2 IPv4 carries 8 auth bytes)."""
    size = 4 if ip_version == 4 else 16
    auth = AUTH_LEN if version == 2 and ip_version == 4 else 0
    return HEADER_LEN + count * size + auth


def internet_checksum(data: bytes, initial: int = 0) -> int:
    """RFC 1071 ones' complement sum of ``data`` (odd length padded), complemented."""
    if len(data) % 2:
        data += b"\0"
    words: tuple[int, ...] = struct.unpack(f"!{len(data) // 2}H", data)
    total = initial + sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_header(src: IPAddress, dst: IPAddress, length: int) -> bytes:
    """The IPv4 (RFC 768 style) or IPv6 (RFC 8200 §8.1) pseudo-header for protocol 112."""
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, IPPROTO_VRRP, length)
    return src.packed + dst.packed + struct.pack("!I3xB", length, IPPROTO_VRRP)


def _checksum_prefix(
    version: int, src: IPAddress, dst: IPAddress, length: int, variant: ChecksumVariant,
    mcast_group: IPAddress | None,
) -> bytes:
    if version == 2 or (src.version == 4 and variant is ChecksumVariant.AS_V2):
        return b""
    if variant is ChecksumVariant.MCAST_DST and mcast_group is not None:
        dst = mcast_group
    return pseudo_header(src, dst, length)


def _check_family(src: IPAddress, dst: IPAddress, version: int) -> None:
    if src.version != dst.version:
        raise PacketError(PacketProblem.BAD_FAMILY, "source and destination families differ")
    if version == 2 and src.version == 6:
        raise PacketError(PacketProblem.BAD_FAMILY, "VRRPv2 is IPv4 only")


def encode(
    advert: Advert,
    src: IPAddress,
    dst: IPAddress,
    *,
    checksum_as_v2: bool = False,
    mcast_group: IPAddress | None = None,
) -> bytes:
    """The VRRP message for ``advert`` sent from ``src`` to ``dst``, checksum filled in.

    ``checksum_as_v2`` leaves the IPv4 pseudo-header out of a v3 checksum. ``mcast_group``
    given asks for keepalived's old unicast checksum (pseudo-header with the group as the
    destination), which a peer asked for by sending it. Raises :class:`PacketError` if the
    advert does not fit the addresses' family.
    """
    _check_family(src, dst, advert.version)
    if any(a.version != src.version for a in advert.addresses):
        raise PacketError(PacketProblem.BAD_FAMILY, "addresses are not of the sender's family")
    if advert.version == 2:
        head = struct.pack(
            "!BBBBBBH", 0x20 | TYPE_ADVERT, advert.vrid, advert.priority,
            len(advert.addresses), advert.auth_type, advert.interval, 0,
        )
        tail = advert.auth_data
    else:
        head = struct.pack(
            "!BBBBHH", 0x30 | TYPE_ADVERT, advert.vrid, advert.priority,
            len(advert.addresses), advert.interval, 0,
        )
        tail = b""
    body = head + b"".join(a.packed for a in advert.addresses) + tail
    variant = _variant_for(checksum_as_v2, mcast_group)
    prefix = _checksum_prefix(advert.version, src, dst, len(body), variant, mcast_group)
    checksum = internet_checksum(prefix + body)
    return body[:6] + struct.pack("!H", checksum) + body[8:]


def _variant_for(checksum_as_v2: bool, mcast_group: IPAddress | None) -> ChecksumVariant:
    if checksum_as_v2:
        return ChecksumVariant.AS_V2
    return ChecksumVariant.PSEUDO_HEADER if mcast_group is None else ChecksumVariant.MCAST_DST


def checksum_variant(
    payload: bytes,
    src: IPAddress,
    dst: IPAddress,
    *,
    checksum_as_v2: bool = False,
    mcast_group: IPAddress | None = None,
) -> ChecksumVariant | None:
    """Which checksum computation ``payload`` satisfies, None if none does.

    The payload must already be known to be a whole message (see :func:`parse`). For v2 the
    answer is PSEUDO_HEADER-free by definition and reported as AS_V2. A v3 IPv4 message is tried
    with the configured variant first, then (``mcast_group`` given) with keepalived's old
    unicast variant, the way keepalived auto-detects it.
    """
    version = payload[0] >> 4
    if version == 2:
        return ChecksumVariant.AS_V2 if internet_checksum(payload) == 0 else None
    first = ChecksumVariant.AS_V2 if checksum_as_v2 else ChecksumVariant.PSEUDO_HEADER
    candidates = [first]
    if mcast_group is not None and not checksum_as_v2 and dst != mcast_group:
        candidates.append(ChecksumVariant.MCAST_DST)
    for variant in candidates:
        prefix = _checksum_prefix(version, src, dst, len(payload), variant, mcast_group)
        if internet_checksum(prefix + payload) == 0:
            return variant
    return None


@dataclass(frozen=True, slots=True)
class Header:
    """The fixed 8 bytes of a message, unchecked: what receive checks look at one by one."""

    version: int
    type: int
    vrid: int
    priority: int
    count: int
    auth_type: int  # v2 only; 0 for v3
    interval: int  # v2 seconds, v3 centiseconds (reserved bits masked off)
    checksum: int


def parse_header(payload: bytes) -> Header:
    """The fixed header of ``payload``; PacketError(TRUNCATED) under 8 bytes."""
    if len(payload) < HEADER_LEN:
        raise PacketError(PacketProblem.TRUNCATED, f"{len(payload)} bytes, a header needs 8")
    vers_type, vrid, priority, count, word, checksum = struct.unpack_from("!BBBBHH", payload)
    version = vers_type >> 4
    if version == 2:
        auth_type, interval = word >> 8, word & 0xFF
    else:
        auth_type, interval = 0, word & V3_INTERVAL_MASK
    return Header(version, vers_type & 0x0F, vrid, priority, count, auth_type, interval, checksum)


def addresses_of(payload: bytes, header: Header, ip_version: int) -> tuple[IPAddress, ...]:
    """The addresses a whole message carries (length already checked)."""
    size = 4 if ip_version == 4 else 16
    make = ipaddress.IPv4Address if ip_version == 4 else ipaddress.IPv6Address
    return tuple(
        make(payload[HEADER_LEN + i * size : HEADER_LEN + (i + 1) * size])
        for i in range(header.count)
    )


def build_advert(payload: bytes, header: Header, ip_version: int) -> Advert:
    """The :class:`Advert` of a message whose length, version and type are known good."""
    addresses = addresses_of(payload, header, ip_version)
    if header.version == 2:
        end = message_length(2, ip_version, header.count)
        if header.auth_type not in tuple(AuthType):
            raise PacketError(PacketProblem.BAD_AUTH_TYPE, f"auth type {header.auth_type} unknown")
        return Advert(
            2, header.vrid, header.priority, header.interval, addresses,
            AuthType(header.auth_type), payload[end - AUTH_LEN : end],
        )
    return Advert(3, header.vrid, header.priority, header.interval, addresses)


def decode(
    payload: bytes,
    src: IPAddress,
    dst: IPAddress,
    *,
    checksum_as_v2: bool = False,
    mcast_group: IPAddress | None = None,
    verify_checksum: bool = True,
) -> Advert:
    """The advert in ``payload`` received from ``src`` at ``dst``, or :class:`PacketError`.

    Checks, strictly: a version 2 or 3 ADVERTISEMENT, exactly as long as its address count
    says, a valid checksum (see :func:`checksum_variant` for ``checksum_as_v2`` and
    ``mcast_group``), and field ranges. ``verify_checksum=False`` is for IPv6, whose
    checksum the kernel has already verified.
    """
    return _decode(payload, src, dst, checksum_as_v2, mcast_group, verify_checksum)


def _decode(
    payload: bytes, src: IPAddress, dst: IPAddress, as_v2: bool,
    mcast_group: IPAddress | None, verify: bool,
) -> Advert:
    header = parse_header(payload)
    if header.version not in (2, 3):
        raise PacketError(PacketProblem.BAD_VERSION, f"version {header.version}")
    _check_family(src, dst, header.version)
    if header.type != TYPE_ADVERT:
        raise PacketError(PacketProblem.BAD_TYPE, f"type {header.type}, expected 1")
    expected = message_length(header.version, src.version, header.count)
    if len(payload) != expected:
        raise PacketError(
            PacketProblem.BAD_LENGTH,
            f"{len(payload)} bytes for {header.count} addresses, expected {expected}",
        )
    if verify and checksum_variant(
        payload, src, dst, checksum_as_v2=as_v2, mcast_group=mcast_group
    ) is None:
        raise PacketError(PacketProblem.BAD_CHECKSUM, f"checksum {header.checksum:#06x} is wrong")
    return build_advert(payload, header, src.version)
