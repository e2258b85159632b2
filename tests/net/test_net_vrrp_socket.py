"""VRRP raw sockets between two namespaces: multicast and unicast, IPv4 and IPv6."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import subprocess
import time

import pytest

from astlinux_ha.net.vrrp_socket import (
    VRRP_GROUP4,
    VRRP_GROUP6,
    Mode,
    Received,
    SocketKey,
    SocketPool,
    VrrpSocket,
    parse_ipv4,
)
from lab.netns import NetnsLoop, Wire, ns_sh

# VRRP-shaped: v2 advert, vrid 50, prio 100, 1 address, auth none, interval 1, checksum left 0
# (the core computes it; the kernel fills it for IPv6).
PAYLOAD = bytes([0x21, 50, 100, 1, 0, 1, 0, 0]) + ipaddress.IPv4Address("10.77.0.244").packed


@pytest.fixture
def wire():
    w = Wire()
    try:
        yield w.build()
    finally:
        w.destroy()


@pytest.fixture
def hosts(wire):
    with NetnsLoop(wire.a) as a, NetnsLoop(wire.b) as b:
        yield wire, a, b


class Collector:
    """Receives packets on one side; lives in that side's loop."""

    def __init__(self) -> None:
        self.packets: list[Received] = []
        self.event = asyncio.Event()

    def __call__(self, packet: Received) -> None:
        self.packets.append(packet)
        self.event.set()

    async def wait(self, n: int = 1, timeout: float = 3.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.packets) < n:
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), max(0.01, deadline - time.monotonic()))
        return self.packets


def exchange(a: NetnsLoop, b: NetnsLoop, key_a: SocketKey, key_b: SocketKey, dst=None, src=None):
    """Open key_b on B and key_a on A, send PAYLOAD from A, return what B received."""
    collector: dict[str, Collector] = {}
    socks: dict[str, VrrpSocket] = {}

    async def listen():
        collector["c"] = Collector()
        socks["b"] = VrrpSocket.open(key_b)
        socks["b"].start(collector["c"])

    async def send():
        socks["a"] = VrrpSocket.open(key_a)
        return socks["a"].send(PAYLOAD, dst=dst, src=src)

    try:
        b.run(listen)
        assert a.run(send) is None
        return b.run(lambda: collector["c"].wait(1))
    finally:
        if "a" in socks:
            a.call(socks["a"].close)
        if "b" in socks:
            b.call(socks["b"].close)


def test_parse_ipv4_strips_options_and_padding():
    header = bytes([0x46, 0xC0]) + (28).to_bytes(2, "big") + bytes(4) + bytes([255, 112, 0, 0])
    header += bytes([10, 0, 0, 1, 224, 0, 0, 18]) + bytes(4)  # 4 bytes of options
    parsed = parse_ipv4(header + b"ABCD" + b"\0" * 6)
    assert parsed == (
        ipaddress.IPv4Address("10.0.0.1"), VRRP_GROUP4, 255, b"ABCD"
    )
    assert parse_ipv4(b"\x45" + bytes(10)) is None
    assert parse_ipv4(bytes([0x60]) + bytes(40)) is None


def test_multicast_ipv4(hosts):
    wire, a, b = hosts
    src = ipaddress.IPv4Address(wire.A4)
    got = exchange(
        a, b,
        SocketKey("eth0", socket.AF_INET, Mode.MULTICAST, src),
        SocketKey("eth0", socket.AF_INET, Mode.MULTICAST),
    )
    assert got[0].payload == PAYLOAD
    assert got[0].src == src
    assert got[0].dst == VRRP_GROUP4
    assert got[0].ttl == 255
    assert got[0].ifname == "eth0"


def test_multicast_ipv6_from_link_local(hosts):
    wire, a, b = hosts
    lla = ipaddress.IPv6Address(wire.link_local(wire.a))
    got = exchange(
        a, b,
        SocketKey("eth0", socket.AF_INET6, Mode.MULTICAST, lla),
        SocketKey("eth0", socket.AF_INET6, Mode.MULTICAST),
    )
    assert got[0].src == lla
    assert got[0].dst == VRRP_GROUP6
    assert got[0].ttl == 255
    # The kernel filled in the checksum at offset 6; everything else is ours.
    assert got[0].payload[:6] == PAYLOAD[:6]
    assert got[0].payload[6:8] != b"\0\0"
    assert got[0].payload[8:] == PAYLOAD[8:]


def test_unicast_ipv4_with_ttl_override(hosts):
    wire, a, b = hosts
    src, dst = ipaddress.IPv4Address(wire.A4), ipaddress.IPv4Address(wire.B4)
    collector: dict[str, Collector] = {}
    socks: dict[str, VrrpSocket] = {}

    async def listen():
        collector["c"] = Collector()
        socks["b"] = VrrpSocket.open(SocketKey("eth0", socket.AF_INET, Mode.UNICAST, dst))
        socks["b"].start(collector["c"])

    async def send():
        socks["a"] = VrrpSocket.open(SocketKey("eth0", socket.AF_INET, Mode.UNICAST, src))
        assert socks["a"].send(PAYLOAD, dst=dst) is None
        assert socks["a"].send(PAYLOAD, dst=dst, ttl=64) is None

    try:
        b.run(listen)
        a.run(send)
        got = b.run(lambda: collector["c"].wait(2))
    finally:
        for side, loop in (("a", a), ("b", b)):
            if side in socks:
                loop.call(socks[side].close)
    assert [(p.src, p.dst, p.ttl) for p in got] == [(src, dst, 255), (src, dst, 64)]


def test_unicast_ipv6(hosts):
    wire, a, b = hosts
    src, dst = ipaddress.IPv6Address(wire.A6), ipaddress.IPv6Address(wire.B6)
    got = exchange(
        a, b,
        SocketKey("eth0", socket.AF_INET6, Mode.UNICAST, src),
        SocketKey("eth0", socket.AF_INET6, Mode.UNICAST, dst),
        dst=dst,
    )
    assert (got[0].src, got[0].dst, got[0].ttl) == (src, dst, 255)


def test_unicast_socket_ignores_multicast_and_other_destinations(hosts):
    wire, a, b = hosts
    collector: dict[str, Collector] = {}
    socks: dict[str, VrrpSocket] = {}
    b4 = ipaddress.IPv4Address(wire.B4)
    ns_sh(wire.b, "ip", "addr", "add", "10.77.0.3/24", "dev", "eth0")

    async def listen():
        collector["c"] = Collector()
        socks["uni"] = VrrpSocket.open(SocketKey("eth0", socket.AF_INET, Mode.UNICAST, b4))
        socks["uni"].start(collector["c"])
        # A multicast listener on the same box makes the kernel accept the group traffic.
        socks["mc"] = VrrpSocket.open(SocketKey("eth0", socket.AF_INET, Mode.MULTICAST))
        socks["mc"].start(lambda p: None)

    async def send():
        s = VrrpSocket.open(SocketKey("eth0", socket.AF_INET, Mode.MULTICAST))
        try:
            assert s.send(PAYLOAD) is None
            assert s.send(PAYLOAD, dst=ipaddress.IPv4Address("10.77.0.3")) is None
            assert s.send(PAYLOAD, dst=b4) is None
        finally:
            s.close()

    try:
        b.run(listen)
        a.run(send)
        got = b.run(lambda: collector["c"].wait(1))
        b.run(lambda: asyncio.sleep(0.2))
    finally:
        for sock in socks.values():
            b.call(sock.close)
    assert [p.dst for p in got] == [b4]


def test_send_from_missing_source_is_reported_not_raised(hosts):
    wire, a, _b = hosts

    async def send():
        s = VrrpSocket.open(SocketKey("eth0", socket.AF_INET, Mode.UNICAST,
                                      ipaddress.IPv4Address("10.77.0.99")))
        try:
            return s.send(PAYLOAD, dst=ipaddress.IPv4Address(wire.B4))
        finally:
            s.close()

    err = a.run(send)
    assert err is not None
    assert err.errno in (errno.EADDRNOTAVAIL, errno.EINVAL, errno.ENETUNREACH)


def test_send_on_downed_link_is_reported(hosts):
    wire, a, _b = hosts

    async def send():
        s = VrrpSocket.open(SocketKey("eth0", socket.AF_INET, Mode.MULTICAST))
        try:
            ns_sh(wire.a, "ip", "link", "set", "eth0", "down")
            return s.send(PAYLOAD)
        finally:
            s.close()

    err = a.run(send)
    assert err is not None and err.errno in (errno.ENETDOWN, errno.ENETUNREACH, errno.ENXIO)


def test_ttl_255_on_the_wire(hosts, tmp_path):
    """tcpdump on B sees TTL 255, TOS 0xc0 and no DF bit, as keepalived sends."""
    wire, a, _b = hosts
    pcap = tmp_path / "vrrp.pcap"
    dump = subprocess.Popen(
        ["ip", "netns", "exec", wire.b, "tcpdump", "--immediate-mode", "-i", "eth0", "-U",
         "-c", "1", "-w",
         str(pcap), "ip proto 112"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        # tcpdump prints "listening on" once its filter is attached.
        assert "listening" in dump.stderr.readline()

        async def send():
            s = VrrpSocket.open(SocketKey("eth0", socket.AF_INET, Mode.MULTICAST))
            try:
                return s.send(PAYLOAD)
            finally:
                s.close()

        assert a.run(send) is None
        dump.wait(5)
    finally:
        if dump.poll() is None:
            dump.kill()
            dump.wait()
    from scapy.layers.inet import IP
    from scapy.utils import rdpcap

    (frame,) = rdpcap(str(pcap))
    ip = frame[IP]
    assert (ip.ttl, ip.tos, ip.proto, ip.dst, int(ip.flags)) == (255, 0xC0, 112, "224.0.0.18", 0)
    assert bytes(ip.payload) == PAYLOAD


def test_pool_shares_and_reopens(hosts):
    wire, a, b = hosts
    collector: dict[str, Collector] = {}
    holder: dict[str, SocketPool] = {}
    key = SocketKey("eth0", socket.AF_INET, Mode.MULTICAST)

    async def setup():
        collector["c"] = Collector()
        pool = holder["pool"] = SocketPool(collector["c"])
        first = pool.acquire(key)
        assert pool.acquire(key) is first
        pool.release(key)
        assert pool.get(key) is first

    async def send():
        s = VrrpSocket.open(key)
        try:
            assert s.send(PAYLOAD) is None
        finally:
            s.close()

    try:
        b.run(setup)
        # Delete and re-create B's eth0 (a new ifindex): the old socket is dead.
        ns_sh(wire.b, "ip", "link", "del", "eth0")
        subprocess.run(["ip", "-n", wire.sw, "link", "add", "pb", "type", "veth", "peer", "name",
                        "eth0", "netns", wire.b], check=True)
        subprocess.run(["ip", "-n", wire.sw, "link", "set", "pb", "master", "br0", "up"],
                       check=True)
        ns_sh(wire.b, "ip", "link", "set", "eth0", "up")
        assert b.call(holder["pool"].reopen_interface, "eth0") == []
        a.run(send)
        got = b.run(lambda: collector["c"].wait(1))
        assert got[0].src == ipaddress.IPv4Address(wire.A4)
        b.call(holder["pool"].release, key)
        assert b.call(holder["pool"].get, key) is None
    finally:
        if "pool" in holder:
            b.call(holder["pool"].close)
