"""no_accept's firewall: drop traffic to and from the VIPs of a master that does not own them.

keepalived 2.2.7 (Debian's build, NFTABLES only) does it with its own tables, and so do we,
with the same names so a leftover of either daemon is cleaned by the other::

    table ip keepalived {                      # only while an IPv4 VIP is dropped
        set vips { type ipv4_addr; elements = { 10.10.50.244 } }
        chain in  { type filter hook input priority -1; policy accept; ip daddr @vips drop }
        chain out { type filter hook output priority -1; policy accept; ip saddr @vips drop }
    }
    table ip6 keepalived { ... }               # the same for IPv6, letting neighbour
                                               # solicitations and adverts through, and
                                               # keying link-local VIPs on their interface

The table lives in its own namespace of the ruleset, so the admin's arno-iptables-firewall
rules are never touched. Every change rewrites the whole of both tables in one ``nft -f -``
transaction (deleting the old ones first), so there is no moment with a half-written set and
no state to get out of step with the kernel's. ``nft`` runs as an asyncio subprocess: the loop
never waits on it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

TABLE = "keepalived"
# keepalived's default nftables_priority: just before the filter chains an admin writes.
PRIORITY = -1
NFT_TIMEOUT = 5.0
_NFT_FALLBACKS = ("/usr/sbin/nft", "/sbin/nft")
_LINK_LOCAL = ipaddress.IPv6Network("fe80::/10")
_IFNAME = re.compile(r"[A-Za-z0-9_.@-]{1,15}")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Drop:
    """One address whose traffic is dropped; ``ifname`` matters for an IPv6 link-local one
    (the same fe80:: address may be a VIP on one link and a host's own on another)."""

    address: IPAddress
    ifname: str = ""


def nft_path() -> str | None:
    """The nft binary, or None when it is not installed.

    The system's own places come first: a root daemon must not run an ``nft`` that an
    inherited PATH put ahead of them. PATH is the last resort (a build that keeps it
    elsewhere).
    """
    for path in _NFT_FALLBACKS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("nft")


def _clear(family: str) -> list[str]:
    # "add" then "delete" in one transaction: deletes a table that may not exist.
    return [f"add table {family} {TABLE}", f"delete table {family} {TABLE}"]


def _chains(family: str, lines: dict[str, list[str]]) -> list[str]:
    out = []
    for name, rules in lines.items():
        out.append(f"\tchain {name} {{")
        if name in ("in", "out"):
            hook = "input" if name == "in" else "output"
            out.append(f"\t\ttype filter hook {hook} priority {PRIORITY}; policy accept;")
        out.extend(f"\t\t{rule}" for rule in rules)
        out.append("\t}")
    return out


def _set(name: str, kind: str, elements: Sequence[str]) -> list[str]:
    out = [f"\tset {name} {{", f"\t\ttype {kind}"]
    if elements:
        out.append(f"\t\telements = {{ {', '.join(elements)} }}")
    out.append("\t}")
    return out


def _ipv4(drops: Sequence[Drop]) -> list[str]:
    elements = list(dict.fromkeys(str(d.address) for d in drops))
    return [f"table ip {TABLE} {{", *_set("vips", "ipv4_addr", elements),
            *_chains("ip", {"in": ["ip daddr @vips drop"], "out": ["ip saddr @vips drop"]}),
            "}"]


def _ipv6(drops: Sequence[Drop]) -> list[str]:
    for d in drops:
        if d.address in _LINK_LOCAL and not _IFNAME.fullmatch(d.ifname):
            # Goes into the script between quotes: never let a name write nft syntax.
            raise ValueError(f"interface name {d.ifname!r} cannot be used in an nft set")
    glob = list(dict.fromkeys(str(d.address) for d in drops if d.address not in _LINK_LOCAL))
    local = list(dict.fromkeys(f'{d.address} . "{d.ifname}"' for d in drops
                               if d.address in _LINK_LOCAL))
    # Neighbour discovery must reach a dropped VIP, or the clients' neighbour entries for
    # the router's other addresses on that link fail too (keepalived lets them through).
    nd = "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept"
    chains = {
        "in": [nd, f"ip6 daddr {_LINK_LOCAL} goto in_link_local", "ip6 daddr @vips drop"],
        "out": [nd, f"ip6 saddr {_LINK_LOCAL} goto out_link_local", "ip6 saddr @vips drop"],
        "in_link_local": ["ip6 daddr . iifname @vips_link_local drop"],
        "out_link_local": ["ip6 saddr . oifname @vips_link_local drop"],
    }
    return [f"table ip6 {TABLE} {{", *_set("vips", "ipv6_addr", glob),
            *_set("vips_link_local", "ipv6_addr . ifname", local),
            *_chains("ip6", chains), "}"]


def ruleset(drops: Iterable[Drop]) -> str:
    """The ``nft -f`` script that makes our tables drop exactly ``drops`` (none: no table).

    Raises ValueError for a link-local VIP on an interface whose name nft cannot quote."""
    unique = list(dict.fromkeys(drops))
    v4 = [d for d in unique if d.address.version == 4]
    v6 = [d for d in unique if d.address.version == 6]
    lines = [*_clear("ip"), *_clear("ip6")]
    if v4:
        lines += _ipv4(v4)
    if v6:
        lines += _ipv6(v6)
    return "\n".join(lines) + "\n"


async def run_nft(script: str, nft: str | None = None) -> str | None:
    """Apply ``script`` with ``nft -f -``; the reason it failed, or None."""
    binary = nft or nft_path()
    if binary is None:
        return "nft not found (install nftables)"
    try:
        proc = await asyncio.create_subprocess_exec(
            binary, "-f", "-", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            _, err = await asyncio.wait_for(proc.communicate(script.encode()), NFT_TIMEOUT)
        except TimeoutError:
            # A hung nft must not hold up the instance's VIP work queued behind it.
            proc.kill()
            await proc.wait()
            return f"{binary} did not finish within {NFT_TIMEOUT:g} s"
    except OSError as exc:
        return f"cannot run {binary}: {exc.strerror or exc}"
    if proc.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()
        return f"{binary} exited {proc.returncode}: {reason[0] if reason else 'no message'}"
    return None


class Firewall:
    """The daemon's no_accept drop rules: what each instance wants dropped, applied as one
    ruleset. Changes are applied one after the other, each with the state of its moment."""

    def __init__(self, log: logging.Logger, nft: str | None = None) -> None:
        self.log = log
        self._nft = nft
        self._wanted: dict[str, tuple[Drop, ...]] = {}
        self._lock = asyncio.Lock()
        self._failing = False  # the last failure was logged: say nothing until it works
        # Requests made, and the last request the rules now in place cover: a run applies
        # everything wanted at its start, so the requests queued behind it need no run of
        # their own (200 instances going master at once cost 200 nft runs in a row).
        self._asked = 0
        self._covered = 0

    @property
    def wanted(self) -> Mapping[str, tuple[Drop, ...]]:
        """What each instance has asked to drop."""
        return self._wanted

    async def clean(self) -> None:
        """At start: remove the tables a crashed run (ours or keepalived's) left behind, so
        no VIP of this run is dropped that should not be. Quiet when nft is missing."""
        async with self._lock:
            await run_nft(ruleset(()), self._nft)

    async def block(self, owner: str, drops: Sequence[Drop]) -> None:
        """Instance ``owner`` became master: drop traffic to and from ``drops``."""
        self._wanted[owner] = tuple(drops)
        await self._apply(owner)

    async def unblock(self, owner: str) -> None:
        """Instance ``owner`` left master (or is going away): its VIPs are no longer dropped."""
        if self._wanted.pop(owner, None) is not None:
            await self._apply(owner)

    async def close(self) -> None:
        """At stop: remove our tables."""
        self._wanted.clear()
        async with self._lock:
            await run_nft(ruleset(()), self._nft)

    async def _apply(self, owner: str) -> None:
        self._asked += 1
        mine = self._asked
        async with self._lock:
            if self._covered >= mine:
                return  # a run that began after this request applied it (and logged)
            self._covered = self._asked
            drops = [d for ds in self._wanted.values() for d in ds]
            try:
                reason = await run_nft(ruleset(drops), self._nft)
            except ValueError as exc:
                reason = str(exc)
        if reason is None:
            if self._failing:
                self.log.info("(%s) no_accept firewall rules set again", owner)
            self._failing = False
            return
        if not self._failing:
            self.log.error("(%s) cannot set the no_accept firewall rules: %s - the VIPs "
                           "answer as with accept", owner, reason)
        self._failing = True
