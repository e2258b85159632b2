"""Capturing VRRP on the switch: tcpdump on ``br0`` in the switch namespace, parsed with scapy.

``br0`` is put in promiscuous mode by tcpdump, and a promiscuous bridge hands its own device a
copy of every frame it forwards, so each packet is seen once, including unicast between two
boxes and packets a VRRP block then drops in the forward hook.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ._host import LabError

VRRP_FILTER = "ip proto 112 or ip6 proto 112"


@dataclass(frozen=True)
class VrrpPacket:
    """One captured VRRP packet: wall-clock time, addresses, TTL (hop limit), VRRP bytes."""

    time: float
    src: str
    dst: str
    ttl: int
    payload: bytes


class Capture:
    """A running tcpdump; use as a context manager or call :meth:`stop`, then :meth:`packets`."""

    def __init__(self, switch_netns: str, pcap: Path, bpf: str = VRRP_FILTER) -> None:
        self.pcap = pcap
        self._log = pcap.with_suffix(".log")
        with open(self._log, "wb") as log:
            # -U writes each packet as it arrives, so packets() works while it runs;
            # --immediate-mode keeps the kernel from holding the last packets back at stop.
            self._proc = subprocess.Popen(
                ["ip", "netns", "exec", switch_netns, "tcpdump", "-i", "br0", "-n", "-U",
                 "--immediate-mode",
                 "-s", "0", "-w", str(pcap), bpf],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self._wait_listening()

    def _wait_listening(self, timeout: float = 10.0) -> None:
        # tcpdump says "listening on" once its socket is open; packets before that are lost.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"listening on" in self._log.read_bytes():
                return
            if self._proc.poll() is not None:
                raise LabError(f"tcpdump failed: {self._log.read_text(errors='replace')}")
            time.sleep(0.02)
        raise LabError("tcpdump did not start listening")

    def stop(self) -> None:
        """Stop tcpdump (SIGINT flushes its buffer)."""
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGINT)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(5)

    def packets(self) -> list[VrrpPacket]:
        """Every VRRP packet written to the pcap so far, oldest first."""
        return read_vrrp_pcap(self.pcap)

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_vrrp_pcap(path: Path) -> list[VrrpPacket]:
    """Parse a pcap into VrrpPacket records (non-VRRP packets are skipped)."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import PcapReader

    if not path.exists() or path.stat().st_size < 24:
        return []
    found = []
    with PcapReader(str(path)) as reader:
        try:
            for frame in reader:
                if IP in frame and frame[IP].proto == 112:
                    ip = frame[IP]
                    payload = bytes(ip.payload)[: max(0, ip.len - ip.ihl * 4)]
                    found.append(VrrpPacket(float(frame.time), ip.src, ip.dst, ip.ttl, payload))
                elif IPv6 in frame and frame[IPv6].nh == 112:
                    ip6 = frame[IPv6]
                    payload = bytes(ip6.payload)[: ip6.plen]
                    found.append(VrrpPacket(float(frame.time), ip6.src, ip6.dst, ip6.hlim,
                                            payload))
        except EOFError:
            pass  # tcpdump is still writing: a truncated last record is simply not there yet
    return found
