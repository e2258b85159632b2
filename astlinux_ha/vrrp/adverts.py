"""What one instance sends as its adverts: the datagrams for a priority, cached. Pure.

An advert only varies with the priority and the destination (and the checksum variant an old
keepalived peer asked for), so each is encoded once and the whole send plan of an interval
(one datagram per unicast peer, or one to the group) is kept per priority: encoding it every
interval was most of the per-advert cost at 200 instances. Both caches are small and bounded
(a tracked script moving the priority through many values must not grow them).

With ``auth_type AH`` every datagram differs (sequence number, IP ID, ICV): only the VRRP
message inside is cached, and this module keeps the instance's AH sequence counter, which the
receive checks share, and its IP ID (see :mod:`.ah`).
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple, cast

from . import ah
from .model import InstanceParams, IPAddress, Role
from .packet import Advert, AuthType, PacketError, encode
from .receive import ReceiveParams

# Entries kept per cache before it starts again from empty: more than the priorities an
# instance moves through in practice (base, tracked weights, 0 at stop).
CACHE_LIMIT = 16


class Datagram(NamedTuple):
    """One send: the bytes, the sendmsg destination (None: the socket's multicast group),
    and the advert's destination address (for the log)."""

    payload: bytes
    to: IPAddress | None
    dst: IPAddress


class Sends(NamedTuple):
    """An interval's adverts at one priority, and the log lines of those that could not be
    built (each one a failed send)."""

    datagrams: tuple[Datagram, ...]
    errors: tuple[str, ...] = ()


class Adverts:
    """One instance's advert encoder and caches (and, with AH, its counters)."""

    __slots__ = ("params", "recv", "multicast", "targets", "ah", "seq", "ip_id",
                 "checksum_compat", "_payloads", "_sends")

    def __init__(self, params: InstanceParams, recv: ReceiveParams, *, multicast: bool) -> None:
        self.params = params
        self.recv = recv
        self.multicast = multicast
        self.targets: tuple[IPAddress, ...] = params.unicast_peers or (recv.group,)
        # auth_type AH (params.socket_key's rule, so exactly when the socket is protocol 51).
        self.ah = recv.auth_type is AuthType.AH and recv.family == 4
        if self.ah:
            ah.load_crypto()
        # The sequence number shared by sending and receiving, and the IP ID, both counted
        # per instance from 1 as keepalived does.
        self.seq = ah.SeqCounter()
        self.ip_id = 0
        self.checksum_compat = False
        self._payloads: dict[tuple[int, IPAddress, bool], bytes] = {}
        self._sends: dict[int, Sends] = {}

    def sends(self, priority: int) -> Sends:
        """The datagrams of one advert at ``priority``: one to the group, or one per peer.
        With AH each call is a new advert (the sequence number and IP ID move on)."""
        if self.ah:
            return self._ah_sends(priority)
        cached = self._sends.get(priority)
        if cached is not None:
            return cached
        datagrams, errors = self._encode_all(priority)
        sends = Sends(tuple(Datagram(payload, None if self.multicast else dst, dst)
                            for payload, dst in datagrams), errors)
        if not errors:  # kept only once every target's advert could be built
            if len(self._sends) > CACHE_LIMIT:
                self._sends.clear()
            self._sends[priority] = sends
        return sends

    def peer_uses_old_checksum(self) -> None:
        """A v3 peer sent keepalived's old unicast checksum: ours switch to it, as keepalived
        does (the send plans are built again; the messages are cached per variant)."""
        if not self.checksum_compat:
            self._sends.clear()
        self.checksum_compat = True

    def became_master(self) -> None:
        """Taking over, before the first advert: a counter held at its limit starts again."""
        self.seq = self.seq.became_master()

    def adopt_seq(self, seq: int, *, role: Role, priority: int, heard: int | None,
                  src: IPAddress) -> None:
        """An AH advert from ``src`` passed the AH checks with number ``seq`` (``heard`` is
        its priority when the whole advert was accepted, else None); ``priority`` is ours.

        Before the machine sees the advert: a master that syncs past a lower priority's
        number must send its answer with the number after it.
        """
        self.seq = self.seq.accepted(seq, backup=role is Role.BACKUP)
        if role is Role.MASTER and heard is not None:
            above = int(src) > int(self.params.primary_address)
            self.seq = ah.master_heard(self.seq, seq, heard, priority, above)

    def _ah_sends(self, priority: int) -> Sends:
        # One number and one ID per advert, whatever the number of peers.
        self.seq = self.seq.to_send()
        self.ip_id = ah.next_ip_id(self.ip_id)
        # AH is IPv4 only (self.ah says so), and encode refused any other destination.
        src = cast(ipaddress.IPv4Address, self.params.primary_address)
        key = self.recv.auth_password
        unicast = not self.multicast
        datagrams, errors = self._encode_all(priority)
        return Sends(tuple(
            Datagram(ah.build(vrrp, src, cast(ipaddress.IPv4Address, dst), key=key,
                              seq=self.seq.seq, ip_id=self.ip_id, unicast=unicast),
                     dst if unicast else None, dst)
            for vrrp, dst in datagrams
        ), errors)

    def _encode_all(self, priority: int) -> tuple[list[tuple[bytes, IPAddress]], tuple[str, ...]]:
        datagrams: list[tuple[bytes, IPAddress]] = []
        errors: list[str] = []
        for dst in self.targets:
            try:
                datagrams.append((self.payload(priority, dst), dst))
            except PacketError as exc:
                errors.append(f"({self.params.name}) cannot build advert: {exc}")
        return datagrams, tuple(errors)

    def payload(self, priority: int, dst: IPAddress) -> bytes:
        """The VRRP message at ``priority`` to ``dst`` (cached). Raises PacketError when the
        advert cannot be built (an address of the wrong family, too many VIPs)."""
        key = (priority, dst, self.checksum_compat)
        payload = self._payloads.get(key)
        if payload is not None:
            return payload
        p = self.params
        interval = p.adver_us // (1_000_000 if p.version == 2 else 10_000)
        auth_type = self.recv.auth_type if p.version == 2 else AuthType.NONE
        advert = Advert(
            version=p.version,
            vrid=p.vrid,
            priority=priority,
            interval=interval,
            addresses=p.vips,
            auth_type=auth_type,
            auth_data=self.recv.auth_password if auth_type is AuthType.PASS else b"",
        )
        payload = encode(advert, p.primary_address, dst, checksum_as_v2=self.recv.checksum_as_v2,
                         mcast_group=self.recv.group if self.checksum_compat else None)
        if len(self._payloads) > CACHE_LIMIT:
            self._payloads.clear()
        self._payloads[key] = payload
        return payload
