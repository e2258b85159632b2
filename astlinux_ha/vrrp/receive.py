"""Should an instance act on a received advert? keepalived's checks, in keepalived's order.

keepalived (``vrrp_check_packet``) looks at a packet in this order and stops at the first
failure: AH or not (IPv4), length, TTL/hop limit, version, v2 authentication (for AH: next
header, ICV, SPI, sequence number), v2 interval, type, checksum, multicast/unicast destination,
VIP list, unicast source. Some findings only warn: a v3
interval mismatch, a VIP count or list mismatch (accepted since keepalived 2.3.3), a peer
using keepalived's old unicast checksum. The messages are keepalived's, so logs read the same.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from .ah import AH_LEN, AhPacket, SeqCounter, verify_icv
from .packet import (
    AUTH_LEN,
    IPPROTO_VRRP,
    Advert,
    AuthType,
    ChecksumVariant,
    IPAddress,
    PacketError,
    build_advert,
    checksum_variant,
    message_length,
    parse_header,
)

VRRP_TTL = 255
ETH_PAYLOAD_MIN = 46  # ETH_ZLEN - ETH_HLEN: a shorter IP packet is padded on the wire
VLAN_TAG = 4
IPV4_HEADER = 20  # keepalived sends no IP options, and counts the header in its lengths
MCAST_GROUP4 = ipaddress.IPv4Address("224.0.0.18")
MCAST_GROUP6 = ipaddress.IPv6Address("ff02::12")
NO_SEQ = SeqCounter()  # an AH instance that has neither sent nor accepted an advert yet


class Reason(enum.Enum):
    """What a check found: a rejection (counted) or, for the last four, a warning only."""

    TRUNCATED = "truncated"
    VRID = "vrid"
    LENGTH = "length"
    TTL = "ttl"
    VERSION = "version"
    AUTH_TYPE_INVALID = "auth type invalid"
    AUTH_TYPE_MISMATCH = "auth type mismatch"
    AUTH_FAILURE = "auth failure"
    AH_NEXT_HEADER = "ah next header"
    AH_SPI = "ah spi"
    AH_REPLAY = "ah replay"
    INTERVAL_MISMATCH = "interval mismatch"
    TYPE = "type"
    CHECKSUM = "checksum"
    DESTINATION = "destination"
    MALFORMED = "malformed"
    TTL_RANGE = "ttl range"
    UNICAST_SRC = "unicast source"
    # warnings: the advert is still accepted
    V3_INTERVAL_MISMATCH = "v3 interval mismatch"
    VIP_COUNT = "vip count"
    VIP_MISSING = "vip missing"
    CHECKSUM_COMPAT = "old unicast checksum"


@dataclass(frozen=True, slots=True)
class Peer:
    """A ``unicast_peer`` with keepalived's TTL window (defaults: any TTL)."""

    address: IPAddress
    min_ttl: int = 0
    max_ttl: int = 255


@dataclass(frozen=True, slots=True)
class ReceiveParams:
    """What the checks need to know about the instance.

    ``advert_int`` is seconds as configured (v2 whole seconds, v3 centiseconds).
    ``auth_password`` is the v2 PASS password as bytes (zero-padded to 8 for comparison).
    ``check_unicast_src`` is the instance's ``check_unicast_src`` or the global
    ``vrrp_check_unicast_src``. ``mcast_group`` is the group this family's adverts use.
    """

    name: str
    vrid: int
    version: int
    family: int
    advert_int: float
    vips: tuple[IPAddress, ...] = ()
    auth_type: AuthType = AuthType.NONE
    auth_password: bytes = b""
    unicast_peers: tuple[Peer, ...] = ()
    check_unicast_src: bool = False
    checksum_as_v2: bool = False
    skip_check_adv_addr: bool = False
    mcast_group: IPAddress | None = None

    @property
    def unicast(self) -> bool:
        """True when the instance talks to unicast peers instead of the group."""
        return bool(self.unicast_peers)

    @property
    def group(self) -> IPAddress:
        """The multicast group (configured or the family's default)."""
        if self.mcast_group is not None:
            return self.mcast_group
        return MCAST_GROUP4 if self.family == 4 else MCAST_GROUP6


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome: the reason (for counters) and keepalived's log line."""

    reason: Reason
    message: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """The advert passed; ``warnings`` are to be logged (rate-limited) and counted.

    ``checksum`` says which computation matched; MCAST_DST means the peer is an old
    keepalived and our own unicast v3 adverts should switch to it, as keepalived does.
    """

    advert: Advert
    warnings: tuple[Finding, ...] = ()
    checksum: ChecksumVariant | None = None
    ah_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The advert is ignored; ``finding`` carries the counter reason and the log line.

    ``ah_seq`` is set when the AH checks passed before a later check failed: keepalived has
    adopted that sequence number by then, and so must the caller.
    """

    finding: Finding
    ah_seq: int | None = None

    @property
    def reason(self) -> Reason:
        """Shortcut for ``finding.reason``."""
        return self.finding.reason


def check(
    params: ReceiveParams,
    payload: bytes,
    src: IPAddress,
    dst: IPAddress,
    ttl: int | None,
    *,
    master: IPAddress | None = None,
    ah: AhPacket | None = None,
    ah_counter: SeqCounter = NO_SEQ,
) -> Accepted | Rejected:
    """Run keepalived's receive checks on ``payload`` (the VRRP message without IP header).

    ``ttl`` is the received TTL or hop limit, None when the socket could not tell.
    ``master`` is the address of the master this instance last accepted; with
    ``skip_check_adv_addr`` the VIP list is only checked when the sender differs. ``ah`` is
    the datagram when it came as IP protocol 51 (``payload`` is then what follows the AH
    header), ``ah_counter`` the instance's sequence number; a result's ``ah_seq`` says which
    number to adopt.
    """
    name = params.name
    try:
        header = parse_header(payload)
    except PacketError:
        return _reject(Reason.TRUNCATED, f"({name}) vrrp packet from {src} too short, "
                       f"length {len(payload)}")
    if header.vrid != params.vrid:
        return _reject(Reason.VRID, f"({name}) advert from {src} for VRID {header.vrid}, "
                       f"ours is {params.vrid}")
    expect_ah = params.family == 4 and params.auth_type is AuthType.AH
    if params.family == 4 and (ah is not None) != expect_ah:
        text = ("Received AH header but auth type not AH" if ah is not None
                else "No AH header but auth type is AH")
        return _reject(Reason.AUTH_TYPE_MISMATCH, f"({name}) {text} (from {src})")
    outer = IPV4_HEADER if params.family == 4 else 0
    if ah is not None:
        outer += AH_LEN
    expected = outer + message_length(header.version, params.family, header.count)
    got = outer + len(payload)
    if got != expected and not _padding(expected, got):
        word = "long" if got > expected else "short"
        return _reject(Reason.LENGTH, f"({name}) vrrp packet from {src} too {word}, "
                       f"length {got} and expect {expected}")
    payload = payload[: expected - outer]
    if not params.unicast and ttl is not None and ttl != VRRP_TTL:
        return _reject(Reason.TTL, f"({name}) invalid TTL/HL from {src}. Received {ttl} "
                       f"and expect {VRRP_TTL}")
    if header.version != params.version:
        return _reject(Reason.VERSION, f"({name}) wrong VRRP version from {src}. Received "
                       f"{header.version} and expect {params.version}")
    seq: int | None = None
    if header.version == 2:
        rejected = _check_v2_auth(params, header.auth_type, payload, src)
        if rejected is None and ah is not None:
            rejected, seq = _check_ah(params, ah, ah_counter, src)
        if rejected is None:
            rejected = _check_v2_interval(params, header.interval, src)
        if rejected is not None:
            return Rejected(rejected.finding, seq)
    if header.type != 1:
        return Rejected(Finding(Reason.TYPE, f"({name}) Invalid packet type from {src}. "
                                 f"{header.type} and expect 1"), seq)
    warnings: list[Finding] = []
    ours_cs = round(params.advert_int * 100)
    if header.version == 3 and header.interval != ours_cs:
        warnings.append(Finding(Reason.V3_INTERVAL_MISMATCH, f"({name}) advertisement interval "
                                f"mismatch ours = {ours_cs} centi-sec rcv'd={header.interval} "
                                "centi-sec"))
    variant: ChecksumVariant | None = None
    if params.family == 4:
        variant = _checksum(params, payload, src, dst)
        if variant is None:
            return Rejected(Finding(Reason.CHECKSUM, f"({name}) Invalid VRRPv{header.version} "
                                     f"checksum from {src}"), seq)
        if variant is ChecksumVariant.MCAST_DST:
            warnings.append(Finding(Reason.CHECKSUM_COMPAT,
                                    f"({name}) Setting unicast VRRPv3 checksum to old version"))
    if dst.is_multicast == params.unicast:
        want, got_kind = ("un", "mult") if params.unicast else ("mult", "un")
        return Rejected(Finding(Reason.DESTINATION, f"({name}) Expected {want}icast packet "
                                 f"but received {got_kind}icast packet from {src}"), seq)
    try:
        advert = build_advert(payload, header, params.family)
    except PacketError as exc:
        return Rejected(Finding(Reason.MALFORMED, f"({name}) malformed advert from {src}: "
                                 f"{exc}"), seq)
    warnings += _vip_findings(params, advert, src, master)
    if params.unicast and params.check_unicast_src:
        rejected = _check_source(params, src, ttl)
        if rejected is not None:
            return Rejected(rejected.finding, seq)
    return Accepted(advert, tuple(warnings), variant, seq)


def _reject(reason: Reason, message: str) -> Rejected:
    return Rejected(Finding(reason, message))


def _padding(expected: int, got: int) -> bool:
    # Ethernet pads frames under 60 bytes; with VLAN tags stripped the padding left over can
    # only be checked modulo 4, exactly as keepalived does.
    return (
        expected < ETH_PAYLOAD_MIN
        and expected < got
        and (got - expected) % VLAN_TAG == (VLAN_TAG - ETH_PAYLOAD_MIN % VLAN_TAG) % VLAN_TAG
    )


def _check_v2_auth(
    params: ReceiveParams, auth_type: int, payload: bytes, src: IPAddress
) -> Rejected | None:
    name = params.name
    if auth_type not in tuple(AuthType):
        return _reject(Reason.AUTH_TYPE_INVALID,
                       f"({name}) Invalid auth type from {src}: {auth_type}")
    if auth_type != params.auth_type:
        return _reject(Reason.AUTH_TYPE_MISMATCH, f"({name}) received a {auth_type} auth from "
                       f"{src}, expecting {int(params.auth_type)}!")
    password = params.auth_password[:AUTH_LEN].ljust(AUTH_LEN, b"\0")
    if auth_type == AuthType.PASS and payload[-AUTH_LEN:] != password:
        return _reject(Reason.AUTH_FAILURE, f"({name}) received an invalid passwd from {src}!")
    return None


def _check_ah(
    params: ReceiveParams, ah: AhPacket, counter: SeqCounter, src: IPAddress
) -> tuple[Rejected | None, int | None]:
    # keepalived's order: next header, ICV (nothing else in the packet can be trusted before
    # it), SPI, then the sequence number against replays. A failure adopts no number.
    name = params.name
    if ah.next_header != IPPROTO_VRRP:
        return _reject(Reason.AH_NEXT_HEADER, f"({name}) IPSEC-AH from {src} protects "
                       f"protocol {ah.next_header}, not VRRP"), None
    if not verify_icv(params.auth_password, ah, unicast=params.unicast):
        return _reject(Reason.AUTH_FAILURE, f"({name}) IPSEC-AH : invalid IPSEC HMAC-MD5 value. "
                       f"Due to fields mutation or bad password ! (from {src})"), None
    if ah.spi != int(ah.src):
        return _reject(Reason.AH_SPI, f"({name}) IPSEC AH : invalid IPSEC SPI value from {src}."
                       f" {ah.spi:#010x} and expect {int(ah.src):#010x}"), None
    if not counter.fresh(ah.seq):
        return _reject(Reason.AH_REPLAY, f"({name}) IPSEC-AH : sequence number {ah.seq} already"
                       f" processed. Packet dropped. Local({counter.seq}) (from {src})"), None
    return None, ah.seq


def _check_v2_interval(params: ReceiveParams, interval: int, src: IPAddress) -> Rejected | None:
    mine = round(params.advert_int)
    if interval != mine:
        return _reject(Reason.INTERVAL_MISMATCH, f"({params.name}) advertisement interval "
                       f"mismatch with {src} mine={mine} sec rcv'd={interval} sec")
    return None


def _checksum(
    params: ReceiveParams, payload: bytes, src: IPAddress, dst: IPAddress
) -> ChecksumVariant | None:
    # The old-keepalived variant is only ever tried on unicast, as keepalived does.
    group = params.group if params.unicast else None
    return checksum_variant(
        payload, src, dst, checksum_as_v2=params.checksum_as_v2, mcast_group=group
    )


def _vip_findings(
    params: ReceiveParams, advert: Advert, src: IPAddress, master: IPAddress | None
) -> list[Finding]:
    name = params.name
    if len(advert.addresses) != len(params.vips):
        return [Finding(Reason.VIP_COUNT, f"({name}) expected {len(params.vips)} VIPs but "
                        f"received {len(advert.addresses)}")]
    if params.skip_check_adv_addr and master == src:
        return []
    received = set(advert.addresses)
    for vip in params.vips:
        if vip not in received:
            # keepalived reports the first missing address only, once per advert
            return [Finding(Reason.VIP_MISSING, f"({name}) ip address associated with VRID "
                            f"{params.vrid} not present in advert from {src}: {vip}")]
    return []


def _check_source(params: ReceiveParams, src: IPAddress, ttl: int | None) -> Rejected | None:
    for peer in params.unicast_peers:
        if peer.address == src:
            if ttl is not None and not peer.min_ttl <= ttl <= peer.max_ttl:
                return _reject(Reason.TTL_RANGE, f"({params.name}) TTL/HL {ttl} from {src} not "
                               f"in range [{peer.min_ttl}, {peer.max_ttl}]")
            return None
    return _reject(Reason.UNICAST_SRC,
                   f"({params.name}) unicast source address {src} not a unicast peer")
