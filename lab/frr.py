"""FRR's vrrpd as a second reference peer: zebra + vrrpd (Debian's ``frr``) inside a box.

FRR never makes the macvlan it uses (its docs: vrrpd finds, on the VRRP interface, a macvlan
with the virtual MAC and the VIPs set on it, and toggles its *protodown* flag: off while it is
master, on otherwise). So :func:`start` builds one per address family as FRR's docs do -
``vrrp4-VRID`` / ``vrrp6-VRID``, mode bridge, MAC 00:00:5e:00:01|02:VRID, addrgenmode random
(an IPv6 VR sends from that link-local), the VIPs on it, IPv6 addresses kept across the
protodown - then runs zebra and vrrpd in the foreground, logging to their box logs.

A box whose macvlan is protodown still has the VIP configured, so "who holds the VIP" is
:meth:`Frr.holds` (address present *and* protodown off), not ``Box.holds``: use
:func:`holders` / :func:`wait_for_holders` with a mixed pair.

    frr = start(box, FrrVrrp(vrid=50, vips=("10.10.50.244",), priority=200, advert_ms=100))
    frr.holds(); frr.log_text(); frr.stop()   # stop: vrrpd sends priority 0, as RFC says
"""

from __future__ import annotations

import json
import shutil
import signal
from dataclasses import dataclass

from .box import Box, Spawned, wait_until

FRR_LIBDIR = "/usr/lib/frr"
RUN_DIR = "/var/run/frr"
CONF_DIR = "/etc/frr"


def available() -> bool:
    """Whether Debian's frr (zebra + vrrpd) is installed on the host."""
    return shutil.which("vrrpd", path=FRR_LIBDIR) is not None and shutil.which(
        "zebra", path=FRR_LIBDIR) is not None


@dataclass(frozen=True)
class FrrVrrp:
    """One FRR virtual router: what ``interface IF`` / ``vrrp VRID ...`` lines say.

    ``advert_ms``: FRR counts in centiseconds (v3); v2 only takes whole seconds."""

    vrid: int
    vips: tuple[str, ...]
    priority: int = 100
    version: int = 3
    advert_ms: int = 1000
    interface: str = "eth0"
    preempt: bool = True

    @property
    def family(self) -> int:
        """4 or 6, from the VIPs (one family per FRR virtual router here)."""
        return 6 if ":" in self.vips[0] else 4

    @property
    def macvlan(self) -> str:
        """The macvlan's name, as FRR's docs name them."""
        return f"vrrp{self.family}-{self.vrid}"

    @property
    def mac(self) -> str:
        """RFC 5798's virtual MAC for this VRID and family."""
        return f"00:00:5e:00:{1 if self.family == 4 else 2:02x}:{self.vrid:02x}"


def config_text(spec: FrrVrrp) -> str:
    """vrrpd's configuration for ``spec``."""
    vr = f" vrrp {spec.vrid}"
    lines = ["frr defaults traditional", "log stdout informational", "!",
             f"interface {spec.interface}", f"{vr} version {spec.version}",
             f"{vr} priority {spec.priority}",
             f"{vr} advertisement-interval {spec.advert_ms}"]
    if not spec.preempt:
        lines.append(f" no{vr} preempt")
    kind = "ip" if spec.family == 4 else "ipv6"
    lines += [f"{vr} {kind} {vip}" for vip in spec.vips]
    return "\n".join([*lines, "!", ""])


class Frr:
    """zebra and vrrpd running in one box for one virtual router."""

    def __init__(self, box: Box, spec: FrrVrrp, zebra: Spawned, vrrpd: Spawned) -> None:
        self.box, self.spec, self.zebra, self.vrrpd = box, spec, zebra, vrrpd

    def protodown(self) -> bool:
        """Whether vrrpd holds the macvlan down (it is not master)."""
        out = self.box.run(["ip", "-j", "-d", "link", "show", "dev", self.spec.macvlan],
                           check=False).stdout
        try:
            return bool(json.loads(out)[0].get("proto_down", False))
        except (ValueError, IndexError):
            return True

    def holds(self) -> bool:
        """FRR is master: the VIP on its macvlan and the macvlan not protodown."""
        return self.box.holds(self.spec.vips[0]) and not self.protodown()

    def log_text(self) -> str:
        """vrrpd's log then zebra's."""
        return self.vrrpd.log_text() + "\n--- zebra ---\n" + self.zebra.log_text()

    def stop(self) -> None:
        """SIGTERM vrrpd (a master sends priority 0 and goes down), then zebra."""
        self.vrrpd.stop(timeout=5, sig=signal.SIGTERM)
        self.zebra.stop(timeout=5, sig=signal.SIGTERM)


def _daemon(box: Box, name: str) -> Spawned:
    return box.spawn([f"{FRR_LIBDIR}/{name}", "-f", f"{CONF_DIR}/{name}.conf",
                      "-i", f"{RUN_DIR}/{name}.pid", "-z", f"{RUN_DIR}/zserv.api",
                      "--vty_socket", RUN_DIR, "-P", "0"], name=f"frr-{name}")


def make_macvlan(box: Box, spec: FrrVrrp) -> None:
    """The macvlan FRR's docs have the admin make, with the VIPs on it."""
    dev = spec.macvlan
    cmds = [f"ip link add {dev} link {spec.interface} type macvlan mode bridge",
            f"ip link set {dev} addrgenmode random",
            f"ip link set dev {dev} address {spec.mac}",
            # Down until vrrpd says otherwise: a macvlan up before vrrpd runs is a master.
            f"ip link set dev {dev} protodown on",
            # Else the base answers ARP for the VIP (it is the box's) with its own MAC, in
            # backup too: only the macvlan may, as keepalived sets it up.
            f"sysctl -qw net.ipv4.conf.{spec.interface}.arp_ignore=1",
            f"sysctl -qw net.ipv4.conf.{spec.interface}.arp_filter=1"]
    if spec.family == 6:
        cmds.append(f"sysctl -qw net.ipv6.conf.{dev}.keep_addr_on_down=1")
    prefix = 32 if spec.family == 4 else 128
    extra = " nodad" if spec.family == 6 else ""
    cmds += [f"ip addr add {vip}/{prefix} dev {dev}{extra}" for vip in spec.vips]
    cmds.append(f"ip link set dev {dev} up")
    box.run(" && ".join(cmds))


def start(box: Box, spec: FrrVrrp, timeout: float = 10.0) -> Frr:
    """Build the macvlan, write the configs and start zebra, then vrrpd (once zebra listens)."""
    make_macvlan(box, spec)
    box.run(f"mkdir -p {RUN_DIR} {CONF_DIR} && chown frr:frr {RUN_DIR}")
    box.write(f"{CONF_DIR}/zebra.conf", "log stdout informational\n", mode=0o644)
    box.write(f"{CONF_DIR}/vrrpd.conf", config_text(spec), mode=0o644)
    zebra = _daemon(box, "zebra")
    if not wait_until(lambda: box.exists(f"{RUN_DIR}/zserv.api"), timeout):
        zebra.stop()
        raise RuntimeError(f"zebra did not start in {box.name}:\n{zebra.log_text()}")
    frr = Frr(box, spec, zebra, _daemon(box, "vrrpd"))
    # Running once its router left Initialize (it waits for zebra's interface list).
    started = f"[VRID {spec.vrid}] [IPv{spec.family}] Initialize -> "
    if not wait_until(lambda: started in frr.vrrpd.log_text(), timeout):
        frr.stop()
        raise RuntimeError(f"vrrpd did not start in {box.name}:\n{frr.log_text()}")
    return frr


def holders(boxes: dict[str, Box], ip: str, frr: dict[str, Frr]) -> list[str]:
    """Which of ``boxes`` hold ``ip``: FRR boxes by :meth:`Frr.holds`, the others by address."""
    return [name for name, box in boxes.items()
            if (frr[name].holds() if name in frr else box.holds(ip))]


def wait_for_holders(boxes: dict[str, Box], ip: str, expected: list[str], timeout: float,
                     frr: dict[str, Frr]) -> bool:
    """Poll until exactly ``expected`` hold ``ip``; False on timeout."""
    return wait_until(lambda: sorted(holders(boxes, ip, frr)) == sorted(expected), timeout,
                      interval=0.02)
