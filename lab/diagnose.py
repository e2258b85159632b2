"""Why a rehearsal step failed: a named cause from the configs and the lab, and the daemons'
log lines that show it.

The commonest failures have one shape: a box that should be backup held the VIP too, because
it never heard the master (a wrong unicast_peer, a source it does not accept, a VRID or a
password that differ, a firewall). The lab knows every address each box really has, so the
cause can be named even where pair-check, reading the files alone, could not (an instance
without ``unicast_src_ip`` sends from whatever its interface has).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from astlinux_ha.config import model as cfg
from astlinux_ha.paircheck import Finding, Level

from .rehearse_plan import InstancePair, Plan

# Lines worth showing besides the instance's own: what the daemons say about a dropped packet.
_TELLING = re.compile(r"(?i)error|fault|ignor|invalid|mismatch|discard|drop|unknown|"
                      r"split brain|not ready|cannot|refus|warning")


def causes(plan: Plan, pair: InstancePair, configs: dict[str, cfg.Config], expected: list[str],
           holders: list[str], findings: Sequence[Finding], firewall: bool,
           exited: dict[str, int]) -> list[str]:
    """Plain-words causes of ``holders`` differing from ``expected`` for ``pair``."""
    found = [f"the daemon on the {box} exited (code {code}): see its log"
             for box, code in exited.items()]
    for deaf in [b for b in holders if b not in expected]:
        for sender in [b for b in expected if b != deaf]:
            found += _unheard(plan, pair, configs, deaf, sender, firewall)
    for box in [b for b in expected if b not in holders]:
        if box not in exited:
            found.append(f"the {box} did not take {pair.vips[0] if pair.vips else 'the VIP'}"
                         " (its log says which state it was in)")
    names = {pair.name, pair.master.name, pair.backup.name}
    mine = [f for f in findings if f.level is Level.ERROR
            and any(f"({n})" in f.message or f"({n}/" in f.message for n in names)]
    found += [f"pair-check: {f.message} ({f.here}, {f.there})" for f in mine]
    if not found:
        found.append("no cause found in the configs: see the log lines")
    return list(dict.fromkeys(found))


def _unheard(plan: Plan, pair: InstancePair, configs: dict[str, cfg.Config], deaf: str,
             sender: str, firewall: bool) -> list[str]:
    """Why ``deaf`` did not hear ``sender``'s adverts (and so became master too)."""
    d, s = pair.side(deaf), pair.side(sender)
    head = f"{deaf} never heard the {sender}"
    out = []
    src = plan.source(sender, s)
    mine = plan.source(deaf, d)
    if s.unicast and mine is not None and mine not in {str(p.address) for p in s.unicast_peers}:
        out.append(f"{head}: the {sender}'s unicast_peer {_peers(s)} is not the {deaf}'s "
                   f"address {mine}, so its adverts go elsewhere")
    checks = d.check_unicast_src or configs[deaf].global_defs.vrrp_check_unicast_src
    if d.unicast and src is not None and src not in {str(p.address) for p in d.unicast_peers}:
        why = ("vrrp_check_unicast_src drops adverts from any other source" if checks else
               "it sends its own adverts elsewhere")
        out.append(f"{head}: its unicast_peer {_peers(d)} is not the {sender}'s source {src} "
                   f"({why})")
    if d.unicast != s.unicast:
        out.append(f"{head}: the {sender} uses {'unicast' if s.unicast else 'multicast'}, "
                   f"the {deaf} {'unicast' if d.unicast else 'multicast'}")
    for what, a, b in (("virtual_router_id", s.virtual_router_id, d.virtual_router_id),
                       ("version", s.version, d.version),
                       ("advert_int", s.advert_int, d.advert_int)):
        if a != b:
            out.append(f"{head}: {what} {b} on the {deaf}, {a} on the {sender}")
    if firewall:
        kind = "multicast adverts to the VRRP group" if not s.unicast else (
            "unicast adverts (connection tracking lets them in only as replies)")
        out.append(f"{head}: the firewall in the {deaf} box (--firewall: the guide's rules "
                   f"without the VRRP snippet) drops the {sender}'s {kind}")
    return out


def _peers(inst: cfg.VrrpInstance) -> str:
    return ", ".join(str(p.address) for p in inst.unicast_peers) or "(none)"


def log_lines(log: str, instance: str, limit: int = 10) -> list[str]:
    """The last ``limit`` lines of one daemon's log about ``instance``, or telling of a dropped
    packet. A message repeated back to back is one line with its count: keepalived logs each
    dropped advert, and ten of them would hide the state lines before them."""
    picked: list[str] = []
    last, repeats = None, 0
    for line in log.splitlines():
        if f"({instance})" not in line and not _TELLING.search(line):
            continue
        message = line.split(": ", 1)[-1]  # without the timestamp
        if message == last:
            repeats += 1
            picked[-1] = f"{line} (x{repeats + 1})"
            continue
        last, repeats = message, 0
        picked.append(line)
    return picked[-limit:]
