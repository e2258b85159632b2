"""FRR's vrrpd as a second reference peer (issue 14, use_vmac): ours and FRR 8.4 on one LAN,
each role, multicast, through a cable pull and replug and a graceful stop, with a client
pinging the VIP every 10 ms.

FRR always answers for the VIP with the virtual MAC, and stays master with its cable out. With
ours on its own MAC, a client that learned it at ours' takeover keeps sending to it after
FRR's replug, since FRR never changed state and sends no GARP: measured before use_vmac, the
client lost the VIP 5 s (IPv4) to 50 s (IPv6). With ``use_vmac`` on ours both boxes answer
with 00:00:5e:00:01|02:32 and the client's entry stays valid across every handover: the
replug test asserts the pings have no gap beyond the failover itself.

Parametrization (CI time, 2 cores): v3 at FRR's 100 ms adverts for IPv4 and IPv6, with and
without use_vmac, in both roles (8 runs of 4-7 s); v2, whose FRR adverts are whole seconds,
once per role with use_vmac over IPv4 (2 runs of ~35 s): under 2 minutes in all. Without
use_vmac and FRR as master the replug is not checked for a gap: that is the issue's failure
(measured here: the 1 s window after the replug is one silence, IPv4 and IPv6 alike).

FRR's box keeps answering pings for the VIP while its macvlan is protodown (the address is
still the box's), so a pulled ours-master shows almost no gap: the client reaches FRR's box
before FRR is master. The holders are judged by FRR's protodown flag (lab/frr.py).
"""

from __future__ import annotations

import time

import pytest

from lab import Daemon, daemons, frr
from lab.box import Box, wait_until

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not frr.available(), reason="needs Debian's frr (make deps)")]

VRID = 50
HIGH, LOW = 200, 100
# What the client may lose on top of the protocol's own time: the 10 ms ping period, the
# GARP's flight, the new master's netlink work, polling.
MARGIN = 0.15

def _case(version: int, family: int, vmac: bool, ours_master: bool):
    role = "ours-master" if ours_master else "frr-master"
    name = f"v{version}-ipv{family}{'-vmac' if vmac else ''}-{role}"
    return pytest.param(version, family, vmac, ours_master, id=name)


# v3 (100 ms adverts) in each family, with and without use_vmac, each box the master; v2
# (1 s adverts, 35 s a run) once, ours the master.
CASES = [*(_case(3, family, vmac, ours_master) for family in (4, 6) for vmac in (True, False)
           for ours_master in (True, False)),
         _case(2, 4, True, True)]


def vip_of(family: int) -> str:
    return "10.10.50.244" if family == 4 else "fd00::244"


def ours_conf(*, version: int, family: int, vmac: bool, priority: int, advert: float) -> str:
    return f"""global_defs {{
   router_id OURS
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id {VRID}
    version {version}
    priority {priority}
    advert_int {advert:g}
{"    use_vmac" if vmac else ""}
    virtual_ipaddress {{
        {vip_of(family)}
    }}
}}
"""


def master_down(priority: int, advert: float, version: int) -> float:
    skew = (256 - priority) / 256 * (advert if version == 3 else 1.0)
    return 3 * advert + skew


def link_local_ready(box: Box) -> bool:
    out = box.run("ip -6 addr show dev eth0 scope link", check=False).stdout
    return "fe80::" in out and "tentative" not in out


class Pair:
    """Ours and FRR on one LAN, a client pinging the VIP."""

    def __init__(self, lab, *, version: int, family: int, vmac: bool, ours_master: bool):
        self.lab, self.version, self.family = lab, version, family
        self.ours = lab.add_box("ours", "10.10.50.62/24")
        self.peer = lab.add_box("frr", "10.10.50.65/24")
        self.client = lab.add_box("client", "10.10.50.10/24")
        self.vip = vip_of(family)
        if family == 6:
            for box, host in ((self.ours, 62), (self.peer, 65), (self.client, 10)):
                box.add_address(f"fd00::{host}/64")
            assert wait_until(lambda: link_local_ready(self.ours), 10)
        self.advert = 0.1 if version == 3 else 1.0
        ours_prio, frr_prio = (HIGH, LOW) if ours_master else (LOW, HIGH)
        self.master, self.backup = ("ours", "frr") if ours_master else ("frr", "ours")
        self.down = master_down(LOW, self.advert, version)
        self.frr = frr.start(self.peer, frr.FrrVrrp(
            vrid=VRID, vips=(self.vip,), priority=frr_prio, version=version,
            advert_ms=int(self.advert * 1000)))
        daemons.install_config(self.ours, ours_conf(version=version, family=family, vmac=vmac,
                                                    priority=ours_prio, advert=self.advert))
        self.proc = daemons.start(self.ours, Daemon.ASTLINUX_HA)

    def boxes(self) -> dict[str, Box]:
        return {"ours": self.ours, "frr": self.peer}

    def wait(self, expected: list[str], timeout: float) -> float:
        """Seconds until exactly ``expected`` hold the VIP (fails the test on timeout)."""
        started = time.monotonic()
        ok = frr.wait_for_holders(self.boxes(), self.vip, expected, timeout, {"frr": self.frr})
        assert ok, (f"expected {expected}, held by "
                    f"{frr.holders(self.boxes(), self.vip, {'frr': self.frr})}\n"
                    f"ours:\n{self.proc.log_text()}\nfrr:\n{self.frr.log_text()}")
        return time.monotonic() - started

    def box(self, name: str) -> Box:
        return self.boxes()[name]

    def stop(self, name: str) -> None:
        if name == "ours":
            self.proc.stop()
        else:
            self.frr.stop()


def walk(pair: Pair) -> dict[str, float]:
    """Start, pull the master's cable, replug it, stop the master; the longest ping gaps."""
    pair.wait([pair.master], 6 * pair.down + 3)
    ping = pair.lab.pinger(pair.client, pair.vip)
    time.sleep(5 * pair.advert)
    gaps: dict[str, float] = {}
    pulled = time.time()
    pair.box(pair.master).pull_cable()
    # FRR stays master with its cable out (it does not track its link): both hold the VIP.
    pair.wait(sorted({pair.backup, "frr"}), pair.down + 3)
    time.sleep(5 * pair.advert)
    replugged = time.time()
    gaps["pull"] = ping.report().longest_gap_between(pulled, replugged)
    pair.box(pair.master).replug_cable()
    pair.wait([pair.master], 3 * pair.down + 3)
    time.sleep(10 * pair.advert)
    stopped = time.time()
    gaps["replug"] = ping.report().longest_gap_between(replugged, stopped)
    pair.stop(pair.master)
    pair.wait([pair.backup], pair.down + 3)
    time.sleep(5 * pair.advert)
    gaps["stop"] = ping.stop().longest_gap_between(stopped, time.time())
    return gaps


@pytest.mark.parametrize(("version", "family", "vmac", "ours_master"), CASES)
def test_ours_and_frr(lab, version, family, vmac, ours_master):
    pair = Pair(lab, version=version, family=family, vmac=vmac, ours_master=ours_master)
    gaps = walk(pair)
    print("client's longest ping gaps (s):", {k: round(v, 3) for k, v in gaps.items()})
    log = pair.proc.log_text()
    if vmac:
        assert f"(VI_1) Success creating VMAC interface vrrp.{VRID}" in log, log
    if not ours_master:
        # Ours took over at the pull and handed back at the replug, from its own state.
        assert "(VI_1) Entering MASTER STATE" in log and "Entering BACKUP STATE" in log, log
    # A pulled master is covered within the backup's master-down interval.
    assert gaps["pull"] <= pair.down + MARGIN, (gaps, log)
    if vmac or ours_master:
        # The issue's failure: after FRR's replug a client that learned ours' real MAC lost
        # the VIP for 5-50 s. With use_vmac its entry stays valid: no gap beyond a couple of
        # adverts. (Ours as master announces itself with GARP/NA when it takes back.)
        assert gaps["replug"] <= 2 * pair.advert + MARGIN, (gaps, log)
    # The master's priority 0 hands over within the backup's skew.
    assert gaps["stop"] <= pair.advert + MARGIN, (gaps, log)
