"""The statement tree to the typed model: one handler per keepalived keyword.

Unknown keywords give keepalived's warning and are skipped with their block; keepalived
keywords astlinux-ha does not implement are named as such, so an admin is never left guessing.
Instance settings that have a global counterpart (garp timings, strict mode, ...) start from
the global value, so ``global_defs`` is read first wherever it sits in the file.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from astlinux_ha.problems import Location
from astlinux_ha.vrrp.model import Garp
from astlinux_ha.vrrp.packet import AuthType

from .addresses import parse_peer, parse_route, parse_vip
from .argv import CommandSyntaxError, split_command
from .model import (
    Authentication,
    Config,
    Fifo,
    GlobalDefs,
    Notifies,
    ScriptCommand,
    State,
    SyncGroup,
    TrackInterface,
    TrackScriptRef,
    UserGroup,
    VirtualAddress,
    VrrpInstance,
    VrrpScript,
)
from .parser import Statement
from .unsupported import UNSUPPORTED_GLOBAL, UNSUPPORTED_INSTANCE, UNSUPPORTED_TOP
from .values import (
    Reporter,
    need,
    parse_address,
    parse_flag,
    parse_int,
    parse_seconds,
    user_group,
)

_NOTIFY_KEYS = {
    "notify_master": "master",
    "notify_backup": "backup",
    "notify_fault": "fault",
    "notify_stop": "stop",
    "notify_deleted": "deleted",
    "notify_master_rx_lower_pri": "master_rx_lower_pri",
    "notify": "generic",
}
TIMER_MAX = 2**32 // 1_000_000  # keepalived keeps timers in microseconds in 32 bits
_NO_NOTIFIES = Notifies()


def _script_words(rep: Reporter, st: Statement) -> list[str] | None:
    """The line split the way keepalived re-reads script lines (quotes and escapes done).

    keepalived applies the same quoted-and-escaped split twice: once to the whole line here,
    and once more to the command word when the script runs (``split_command`` again), so four
    backslashes in the file reach the script as one (checked against keepalived 2.2.7).
    """
    try:
        return split_command(st.text)
    except CommandSyntaxError as err:
        rep.error(st.where, f"{st.keyword}: {err}")
        return None


def script_command(rep: Reporter, st: Statement) -> ScriptCommand | None:
    """``KEYWORD CMD [USER [GROUP]]`` re-split with quotes, as keepalived's notify_script_init."""
    words = _script_words(rep, st)
    if words is None:
        return None
    if len(st.words) < 2:
        need(rep, st.where, st.words, 1)  # fatal: keepalived reads the word unchecked
        return None
    if len(words) < 2 or not words[1].strip():
        rep.error(st.where, f"'{st.keyword}' needs a script - ignoring")
        return None
    user, group, ok = user_group(rep, st.where, tuple(words), 2)
    if not ok:
        return None
    return ScriptCommand(words[1], user, group, st.where)


def _fifo(rep: Reporter, st: Statement) -> Fifo | None:
    if len(st.words) < 2:
        # keepalived checks this one itself (-t exits 5, not 2: it runs without the FIFO)
        rep.error(st.where, f"No {st.keyword} name specified")
        return None
    path = st.words[1]
    user, group, ok = user_group(rep, st.where, st.words, 2)
    return Fifo(path, user, group, st.where) if ok else None


def _block(rep: Reporter, st: Statement) -> tuple[Statement, ...]:
    """The statement's block; a missing block is reported and read as empty."""
    if st.block is None:
        rep.error(st.where, f"'{st.keyword}' needs a {{ ... }} block - ignoring")
        return ()
    return st.block


def _value_block(rep: Reporter, st: Statement) -> tuple[Statement, ...]:
    """A block of plain values (VIPs, peers, track lists...): its keyword takes no words."""
    if len(st.words) > 1:
        rep.error(st.where, f"Block {st.keyword} has extra parameters {st.args[0]} ...")
    return _block(rep, st)


def _unknown(rep: Reporter, st: Statement, unsupported: frozenset[str]) -> None:
    """Skip a keyword (and its block) that means nothing here, saying so.

    A real keepalived keyword we do not implement is a warning: the config is valid and
    keepalived would accept it. An unknown keyword is an error (``-t`` exits 5, as
    keepalived's does): a typo such as ``unicast_peeer {`` silently drops a whole block, so
    the config does not run as written.
    """
    if st.keyword in unsupported:
        rep.warning(st.where, f"keyword '{st.keyword}' is not supported by astlinux-ha - ignoring")
    else:
        rep.error(st.where, f"unknown keyword '{st.keyword}'")


class _GarpFields:
    """garp_* keywords shared by global_defs (``vrrp_`` prefix) and instances."""

    SECONDS = {
        "garp_master_delay": ("master_delay", 0.0, float(TIMER_MAX)),
        "garp_master_refresh": ("master_refresh", 0.0, float(TIMER_MAX)),
        "garp_lower_prio_delay": ("lower_prio_delay", 0.0, float(TIMER_MAX)),
        "garp_interval": ("interval", 0.0, 1.0),
        "gna_interval": ("na_interval", 0.0, 1.0),
    }
    COUNTS = {
        "garp_master_repeat": "master_repeat",
        "garp_master_refresh_repeat": "master_refresh_repeat",
        "garp_lower_prio_repeat": "lower_prio_repeat",
    }

    @classmethod
    def read(cls, rep: Reporter, st: Statement, key: str, into: dict[str, Any]) -> bool:
        """Apply ``st`` (its keyword without prefix is ``key``) to ``into``; False if not garp."""
        if key in cls.SECONDS:
            name, lo, hi = cls.SECONDS[key]
            value = parse_seconds(
                rep, st.where, st.keyword, need(rep, st.where, st.words, 1), lo, hi
            )
            if value is not None:
                into[name] = value
            return True
        if key in cls.COUNTS:
            count = parse_int(rep, st.where, st.keyword, need(rep, st.where, st.words, 1), 0, 10000)
            if count == 0 and key in ("garp_master_repeat", "garp_master_refresh_repeat"):
                rep.error(st.where, f"{st.keyword} must be greater than 0, setting to 1")
                count = 1
            if count is not None:
                into[cls.COUNTS[key]] = count
            return True
        if key == "min_garp":
            flag = parse_flag(rep, st.where, st.words)
            if flag:
                # keepalived: one GARP, no second burst, no refresh - but what was already
                # set stays (later lines still override).
                into["min_garp"] = True
                for name, value in (
                    ("master_repeat", 1),
                    ("master_delay", 0.0),
                    ("master_refresh", 0.0),
                    ("master_refresh_repeat", 0),
                ):
                    into.setdefault(name, value)
            return True
        return False


def read_global(rep: Reporter, st: Statement, g: dict[str, Any], garp: dict[str, Any]) -> None:
    """Apply one ``global_defs`` statement."""
    key = st.keyword
    words = st.words
    where = st.where
    flags = {
        "enable_script_security": "enable_script_security",
        "vrrp_check_unicast_src": "vrrp_check_unicast_src",
        "vrrp_skip_check_adv_addr": "vrrp_skip_check_adv_addr",
        "vrrp_strict": "vrrp_strict",
        "vrrp_lower_prio_no_advert": "vrrp_lower_prio_no_advert",
        "vrrp_higher_prio_send_advert": "vrrp_higher_prio_send_advert",
        "log_unknown_vrids": "log_unknown_vrids",
        "vrrp_notify_priority_changes": "vrrp_notify_priority_changes",
        "v3_checksum_as_v2": "v3_checksum_as_v2",
    }
    if key in flags:
        flag = parse_flag(rep, where, words)
        if flag is not None:
            g[flags[key]] = flag
    elif key == "router_id":
        # router_id, script_user and the notify FIFOs are the global keywords whose missing
        # value keepalived reports and ignores (-t exits 5, measured on 2.2.7); every other
        # one exits at once (need()).
        if len(words) < 2:
            rep.error(where, "routerid name missing - ignoring")
        else:
            g["router_id"] = words[1]
    elif key == "script_user":
        user = words[1] if len(words) > 1 else None
        if user is None:
            rep.error(where, "No script username specified")
        else:
            _, group, ok = user_group(rep, where, words, 1)
            if ok:
                g["script_user"] = UserGroup(user, group, where)
    elif key in ("vrrp_mcast_group4", "vrrp_mcast_group6"):
        family = 4 if key.endswith("4") else 6
        addr = parse_address(rep, where, key, need(rep, where, words, 1), family, lenient=True)
        if addr is not None:
            if not addr.is_multicast:
                rep.error(where, f"{key} '{addr}' invalid - must be a multicast address")
            else:
                g[key] = addr
    elif key == "vrrp_version":
        version = parse_int(rep, where, key, need(rep, where, words, 1), 2, 3)
        if version is not None:
            g["vrrp_version"] = version
    elif key == "vrrp_down_timer_adverts":
        count = parse_int(rep, where, key, need(rep, where, words, 1), 1, 100)
        if count is not None:
            g["vrrp_down_timer_adverts"] = count
    elif key == "vrrp_startup_delay":
        delay = parse_seconds(rep, where, key, need(rep, where, words, 1), 0.0, 3600.0)
        if delay is not None:
            g["vrrp_startup_delay"] = delay
    elif key == "umask":
        _umask(rep, st, g)
    elif key in ("notify_fifo", "vrrp_notify_fifo"):
        fifo = _fifo(rep, st)
        if fifo is not None:
            g[key] = fifo
    elif key in ("notify_fifo_script", "vrrp_notify_fifo_script") and len(words) < 2:
        rep.error(where, f"No {key} specified")
    elif key in ("notify_fifo_script", "vrrp_notify_fifo_script"):
        script = script_command(rep, st)
        if script is not None:
            g[key] = script
    elif key.startswith("vrrp_") and _GarpFields.read(rep, st, key[5:], garp):
        pass
    else:
        _unknown(rep, st, UNSUPPORTED_GLOBAL)


def _umask(rep: Reporter, st: Statement, g: dict[str, Any]) -> None:
    """``umask`` takes a number (octal with a leading 0, as strtol base 0) or IRUSR|IWGRP..."""
    text = " ".join(st.args)
    if not text:
        need(rep, st.where, st.words, 1)  # fatal, as in keepalived
        return
    bits = {
        "IRUSR": 0o400,
        "IWUSR": 0o200,
        "IXUSR": 0o100,
        "IRGRP": 0o40,
        "IWGRP": 0o20,
        "IXGRP": 0o10,
        "IROTH": 0o4,
        "IWOTH": 0o2,
        "IXOTH": 0o1,
    }
    try:
        if text[0].isdigit():
            value = int(text, 8) if text.startswith("0") else int(text, 10)
        else:
            value = 0
            for part in text.replace(" ", "").split("|"):
                value |= bits[part]
    except (ValueError, KeyError):
        value = -1
    if not 0 <= value <= 0o777:
        rep.error(
            st.where, f"umask '{text}' invalid - must be an octal mode like 0177 or IWGRP|IWOTH"
        )
        return
    g["umask"] = value


def _weighted_list(
    rep: Reporter, st: Statement, lo: int, hi: int
) -> list[tuple[str, int | None, bool, Location]]:
    """Lines of ``NAME [weight N [reverse]]`` in a track_* block."""
    out: list[tuple[str, int | None, bool, Location]] = []
    for line in _value_block(rep, st):
        words = line.words
        weight: int | None = None
        reverse = False
        rest = words[1:]
        if rest and rest[0] == "weight":
            weight = parse_int(
                rep,
                line.where,
                f"{st.keyword} {words[0]} weight",
                rest[1] if len(rest) > 1 else None,
                lo,
                hi,
            )
            if weight is None:
                continue
            rest = rest[2:]
            if rest and rest[0] == "reverse":
                reverse = True
                rest = rest[1:]
        if rest:
            rep.error(line.where, f"{st.keyword} {words[0]}: unknown option '{rest[0]}' - ignoring")
        out.append((words[0], weight, reverse, line.where))
    return out


def _track_interfaces(rep: Reporter, st: Statement) -> tuple[TrackInterface, ...]:
    return tuple(
        TrackInterface(name, where, weight or 0, reverse)
        for name, weight, reverse, where in _weighted_list(rep, st, -254, 254)
    )


def _track_scripts(rep: Reporter, st: Statement) -> tuple[TrackScriptRef, ...]:
    return tuple(
        TrackScriptRef(name, where, weight, reverse)
        for name, weight, reverse, where in _weighted_list(rep, st, -253, 253)
    )


_INSTANCE_INTS = {
    "virtual_router_id": ("virtual_router_id", 1, 255),
    "priority": ("priority", 1, 255),
    "down_timer_adverts": ("down_timer_adverts", 1, 100),
    "unicast_ttl": ("unicast_ttl", 1, 255),
    "version": ("version", 2, 3),
}
_INSTANCE_FLAGS = {
    "nopreempt": "nopreempt",
    "dont_track_primary": "dont_track_primary",
    "check_unicast_src": "check_unicast_src",
    "lower_prio_no_advert": "lower_prio_no_advert",
    "higher_prio_send_advert": "higher_prio_send_advert",
    "skip_check_adv_addr": "skip_check_adv_addr",
    "strict_mode": "strict_mode",
    "accept": "accept",
    "v3_checksum_as_v2": "v3_checksum_as_v2",
    "notify_priority_changes": "notify_priority_changes",
    "track_src_ip": "track_src_ip",
    "vmac_xmit_base": "vmac_xmit_base",
}


def read_instance(rep: Reporter, st: Statement, g: GlobalDefs) -> VrrpInstance | None:
    """Build one ``vrrp_instance NAME { ... }``."""
    if len(st.words) != 2:
        rep.error(st.where, "vrrp_instance needs exactly one name - ignoring the block")
        return None
    f: dict[str, Any] = {
        "version": g.vrrp_version,
        "down_timer_adverts": g.vrrp_down_timer_adverts,
        "lower_prio_no_advert": g.vrrp_lower_prio_no_advert,
        "higher_prio_send_advert": g.vrrp_higher_prio_send_advert,
        "skip_check_adv_addr": g.vrrp_skip_check_adv_addr,
        "strict_mode": g.vrrp_strict,
        "check_unicast_src": g.vrrp_check_unicast_src,
        "v3_checksum_as_v2": g.v3_checksum_as_v2,
        "notify_priority_changes": g.vrrp_notify_priority_changes,
    }
    explicit: set[str] = set()
    garp: dict[str, Any] = {}
    notifies: dict[str, Any] = {}
    owner = st.words[1]
    for item in _block(rep, st):
        words = item.words
        key = words[0]
        where = item.where
        if key in _INSTANCE_INTS:
            name, lo, hi = _INSTANCE_INTS[key]
            value: Any = parse_int(rep, where, key, need(rep, where, words, 1), lo, hi)
            if value is not None:
                f[name] = value
                explicit.add(name)
        elif key in _INSTANCE_FLAGS:
            flag = parse_flag(rep, where, words)
            if flag is not None:
                f[_INSTANCE_FLAGS[key]] = flag
                explicit.add(_INSTANCE_FLAGS[key])
        elif key == "use_vmac":
            _use_vmac(rep, item, f)
        elif key == "no_accept":
            f["accept"] = False
            explicit.add("accept")
        elif key == "preempt":
            f["nopreempt"] = False  # keepalived's default, accepted for old configs
        elif key == "state":
            _state(rep, item, f, explicit)
        elif key == "interface":
            value = need(rep, where, words, 1)
            if value is not None and len(value) >= 16:
                rep.error(where, f"interface '{value}' invalid - names have at most 15 characters")
            elif value is not None:
                f["interface"] = value
        elif key == "advert_int":
            value = parse_seconds(rep, where, key, need(rep, where, words, 1), 0.01, 255.0)
            if value is not None:
                f["advert_int"] = value
                explicit.add("advert_int")
        elif key == "preempt_delay":
            value = parse_seconds(rep, where, key, need(rep, where, words, 1), 0.0, 1000.0)
            if value is not None:
                f["preempt_delay"] = value
        elif key in ("unicast_src_ip", "mcast_src_ip"):
            addr = parse_address(rep, where, key, need(rep, where, words, 1), lenient=True)
            if addr is not None:
                f[key] = addr
        elif key == "virtual_ipaddress":
            have = f.get("virtual_ipaddresses", ())
            found = _vips(rep, item)
            f["virtual_ipaddresses"] = have + _new_vips(rep, owner, have, found)
        elif key == "virtual_ipaddress_excluded":
            f["virtual_ipaddresses_excluded"] = (
                f.get("virtual_ipaddresses_excluded", ()) + _vips(rep, item))
        elif key == "virtual_routes":
            routes = [parse_route(rep, line) for line in _value_block(rep, item)]
            f["virtual_routes"] = f.get("virtual_routes", ()) + tuple(
                r for r in routes if r is not None
            )
        elif key == "unicast_peer":
            peers = [parse_peer(rep, line) for line in _value_block(rep, item)]
            f["unicast_peers"] = f.get("unicast_peers", ()) + tuple(
                p for p in peers if p is not None
            )
        elif key == "track_interface":
            f["track_interfaces"] = f.get("track_interfaces", ()) + _track_interfaces(rep, item)
        elif key == "track_script":
            f["track_scripts"] = f.get("track_scripts", ()) + _track_scripts(rep, item)
        elif key == "authentication":
            auth = _authentication(rep, item)
            if auth is not None:
                f["authentication"] = auth
        elif key in _NOTIFY_KEYS:
            _notify(rep, item, notifies, owner)
        elif _GarpFields.read(rep, item, key, garp):
            pass
        else:
            _unknown(rep, item, UNSUPPORTED_INSTANCE)
    if f["strict_mode"]:
        # Strict mode sends no repeat burst after a lower-priority advert unless asked to.
        garp.setdefault("lower_prio_delay", 0.0)
        garp.setdefault("lower_prio_repeat", 0)
    # Most instances set no garp_* and no notify: they share the global values' objects.
    f["garp"] = dataclasses.replace(g.garp, **garp) if garp else g.garp
    f["notifies"] = Notifies(**notifies) if notifies else _NO_NOTIFIES
    return VrrpInstance(name=owner, where=st.where, explicit=frozenset(explicit), **f)


def _use_vmac(rep: Reporter, item: Statement, f: dict[str, Any]) -> None:
    """``use_vmac [NAME]``: the macvlan's name, "" for keepalived's default (vrrp.VRID)."""
    if len(item.words) > 2:
        rep.warning(item.where, "use_vmac takes at most one interface name - ignoring the rest")
    name = item.words[1] if len(item.words) > 1 else ""
    if len(name) >= 16:
        rep.error(item.where, f"use_vmac interface '{name}' invalid - names have at most 15 "
                              "characters")
        return
    f["use_vmac"] = name


def _vips(rep: Reporter, st: Statement) -> tuple[VirtualAddress, ...]:
    """The addresses of a virtual_ipaddress(_excluded) block; lines keepalived drops left out."""
    found = []
    for line in _value_block(rep, st):
        vip = parse_vip(rep, line)
        if vip is not None:
            found.append(vip)
    return tuple(found)


def _new_vips(
    rep: Reporter, owner: str, have: tuple[VirtualAddress, ...], found: tuple[VirtualAddress, ...]
) -> tuple[VirtualAddress, ...]:
    """``found`` without the VIPs the instance already lists (keepalived 2.4.3 warns and
    ignores a repeated VIP; 2.2.7 added it twice). The same address on another ``dev`` is
    another VIP; a different prefix length on the same device is not (the kernel holds one)."""
    if not have and len(found) < 2:
        return found  # nothing to repeat
    # Keyed by (type, integer) rather than the address itself, which is equal to another
    # exactly when those are but hashes in Python, through hex(): a 5100-VIP config spent
    # 10 ms here.
    seen = {(type(v.address), int(v.address), v.device) for v in have}
    out: list[VirtualAddress] = []
    for vip in found:
        size = len(seen)  # one hash per VIP: added, or already there
        seen.add((type(vip.address), int(vip.address), vip.device))
        if len(seen) == size:
            rep.warning(vip.where, f"({owner}): VIP duplicates a VIP {vip.address} - ignoring")
            continue
        out.append(vip)
    return tuple(out)


def _state(rep: Reporter, st: Statement, f: dict[str, Any], explicit: set[str]) -> None:
    value = need(rep, st.where, st.words, 1)
    if value is None:
        return
    if value == "BACKUP" and f.get("state") is State.MASTER:
        rep.error(st.where, "state previously set as MASTER - ignoring BACKUP")
    elif value in ("MASTER", "BACKUP"):
        f["state"] = State(value)
        explicit.add("state")
    else:
        rep.error(st.where, f"state '{value}' invalid - must be MASTER or BACKUP; using BACKUP")
        f["state"] = State.BACKUP


def _notify(rep: Reporter, st: Statement, notifies: dict[str, Any], owner: str) -> None:
    if st.keyword == "notify_deleted" and len(st.words) == 1:
        # keepalived.conf(5): notify_deleted's script is optional; alone it makes a removed
        # instance report DELETED instead of FAULT.
        notifies["report_deleted"] = True
        return
    slot = _NOTIFY_KEYS[st.keyword]
    if slot in notifies:
        rep.error(st.where, f"({owner}) {st.keyword} script already specified - ignoring")
        return
    script = script_command(rep, st)
    if script is not None:
        notifies[slot] = script


def _authentication(rep: Reporter, st: Statement) -> Authentication | None:
    auth_type: AuthType | None = None
    password = ""
    for item in _block(rep, st):
        # Only the two keywords take a value: an unknown one is just unknown, not fatal.
        value = (
            need(rep, item.where, item.words, 1)
            if item.keyword in ("auth_type", "auth_pass")
            else None
        )
        if item.keyword == "auth_type":
            if value in ("PASS", "AH"):
                auth_type = AuthType[value]
            elif value is not None:
                rep.error(item.where, f"auth_type '{value}' invalid - must be PASS or AH")
        elif item.keyword == "auth_pass":
            if value is not None:
                if len(value.encode()) > 8:
                    rep.error(item.where, "auth_pass is longer than 8 characters - truncating")
                    value = value.encode()[:8].decode(errors="ignore")
                password = value
        else:
            _unknown(rep, item, frozenset())
    if auth_type is None:
        return None
    return Authentication(auth_type, password, st.where)


def read_script(rep: Reporter, st: Statement) -> VrrpScript | None:
    """Build one ``vrrp_script NAME { ... }``."""
    if len(st.words) != 2:
        rep.error(st.where, "vrrp_script needs exactly one name - ignoring the block")
        return None
    f: dict[str, Any] = {}
    for item in _block(rep, st):
        key = item.keyword
        where = item.where
        value = item.words[1] if len(item.words) > 1 else None
        if key == "script":
            words = _script_words(rep, item)
            if words is None:
                pass
            elif len(words) < 2 or not words[1].strip():
                rep.error(where, f"vrrp_script {st.args[0]}: 'script' needs a command - ignoring")
            else:
                f["script"] = ScriptCommand(words[1], None, None, where)
                if len(words) > 2:
                    # keepalived ignores them silently; say so, but it still runs as written.
                    rep.warning(
                        where,
                        f"vrrp_script {st.args[0]}: words after the script are ignored"
                        " (quote the whole command; the user goes on a 'user' line)",
                    )
        elif key in ("interval", "timeout"):
            seconds = parse_seconds(
                rep, where, key, need(rep, where, item.words, 1), 0.001, float(TIMER_MAX), places=3
            )
            if seconds is not None:
                f[key] = seconds
        elif key == "weight":
            weight = parse_int(rep, where, key, need(rep, where, item.words, 1), -253, 253)
            if weight is not None:
                f["weight"] = weight
            if len(item.words) > 2:
                if item.words[2] == "reverse":
                    f["weight_reverse"] = True
                else:
                    rep.error(where, f"weight option '{item.words[2]}' invalid - must be reverse")
        elif key in ("rise", "fall"):
            count = parse_int(
                rep,
                where,
                key,
                value if value is not None else need(rep, where, item.words, 1),
                1,
                2**31 - 1,
            )
            if count is not None:
                f[key] = count
        elif key == "user":
            user, group, ok = user_group(rep, where, item.words, 1)
            if user is None:
                need(rep, where, item.words, 1)  # fatal, as in keepalived
            elif ok:
                f.update(user=user, group=group)
        elif key == "init_fail":
            f["init_fail"] = True
        else:
            _unknown(rep, item, frozenset())
    script = f.pop("script", None)
    if script is not None and "user" in f:
        script = dataclasses.replace(script, user=f["user"], group=f.get("group"))
    if script is None:
        rep.error(st.where, f"vrrp_script {st.args[0]} has no 'script' line")
    return VrrpScript(name=st.args[0], script=script, where=st.where, **f)


def read_sync_group(rep: Reporter, st: Statement) -> SyncGroup | None:
    """Build one ``vrrp_sync_group NAME { group { ... } ... }``."""
    if len(st.words) != 2:
        rep.error(st.where, "vrrp_sync_group needs exactly one name - ignoring the block")
        return None
    f: dict[str, Any] = {}
    notifies: dict[str, Any] = {}
    for item in _block(rep, st):
        key = item.keyword
        if key == "group":
            members = [(w, line.where) for line in _value_block(rep, item) for w in line.words]
            f["members"] = tuple(m for m, _ in members)
            f["member_where"] = tuple(w for _, w in members)
        elif key in _NOTIFY_KEYS and key not in ("notify_deleted", "notify_master_rx_lower_pri"):
            _notify(rep, item, notifies, st.args[0])
        elif key == "track_interface":
            f["track_interfaces"] = _track_interfaces(rep, item)
        elif key == "track_script":
            f["track_scripts"] = _track_scripts(rep, item)
        elif key in ("notify_priority_changes", "sync_group_tracking_weight"):
            flag = parse_flag(rep, item.where, item.words)
            if flag is not None:
                f[key] = flag
        elif key == "global_tracking":
            rep.warning(
                item.where, "global_tracking is deprecated - use sync_group_tracking_weight"
            )
            f["sync_group_tracking_weight"] = True
        else:
            _unknown(
                rep, item, frozenset({"track_file", "track_process", "track_bfd", "smtp_alert"})
            )
    return SyncGroup(name=st.args[0], where=st.where, notifies=Notifies(**notifies), **f)


def build(
    statements: tuple[Statement, ...], path: str, files: tuple[str, ...], rep: Reporter
) -> Config:
    """Interpret the top-level statements into a :class:`Config` (problems go to ``rep``)."""
    g: dict[str, Any] = {}
    garp: dict[str, Any] = {}
    first_global: Location | None = None
    for st in statements:
        if st.keyword == "global_defs":
            first_global = first_global or st.where
            for item in _block(rep, st):
                read_global(rep, item, g, garp)
    if first_global is not None:
        g["where"] = first_global
    # The global lower-priority burst defaults to the global master burst (keepalived's
    # vrrp_complete_init), fixed before instances copy the global values.
    defaults = Garp()
    garp.setdefault("lower_prio_delay", garp.get("master_delay", defaults.master_delay))
    garp.setdefault("lower_prio_repeat", garp.get("master_repeat", defaults.master_repeat))
    global_defs = GlobalDefs(garp=Garp(**garp), **g)

    instances: list[VrrpInstance] = []
    scripts: list[VrrpScript] = []
    groups: list[SyncGroup] = []
    lvs_warned = False
    for st in statements:
        key = st.keyword
        if key == "global_defs":
            continue
        if key == "vrrp_instance":
            inst = read_instance(rep, st, global_defs)
            if inst is not None:
                instances.append(inst)
        elif key == "vrrp_script":
            scr = read_script(rep, st)
            if scr is not None:
                scripts.append(scr)
        elif key == "vrrp_sync_group":
            grp = read_sync_group(rep, st)
            if grp is not None:
                groups.append(grp)
        elif key in ("virtual_server", "virtual_server_group"):
            if not lvs_warned:
                rep.warning(st.where, "LVS (virtual_server) is not supported - ignoring")
                lvs_warned = True
        else:
            _unknown(rep, st, UNSUPPORTED_TOP)
    return Config(
        path=path,
        global_defs=global_defs,
        instances=tuple(instances),
        scripts=tuple(scripts),
        sync_groups=tuple(groups),
        files=files,
    )
