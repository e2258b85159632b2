"""Reading typed values out of statements, reporting bad ones with file, line and what is allowed.

Every reader returns None for a missing or bad value after recording an ERROR problem; the
caller then keeps its default, which is what keepalived does ("Bad values fall back to
defaults").
"""

from __future__ import annotations

import ipaddress
import re
import socket

from astlinux_ha.problems import Location, Problem, Severity

from .model import IPAddress

_DECIMAL = re.compile(r"^\d+(\.\d*)?$|^\.\d+$")
_TRUE = frozenset({"on", "true", "yes"})
_FALSE = frozenset({"off", "false", "no"})


class Reporter:
    """Collects problems while a config is being built."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: Location | None, severity: Severity, message: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(where, severity, message))

    def error(self, where: Location, message: str) -> None:
        """Record a bad-value problem (keepalived would still run)."""
        self.add(where, Severity.ERROR, message)

    def warning(self, where: Location, message: str) -> None:
        """Record something that only deserves a log line."""
        self.add(where, Severity.WARNING, message)


def need(rep: Reporter, where: Location, words: tuple[str, ...], index: int) -> str | None:
    """``words[index]`` or None after reporting that the keyword lacks a value.

    Fatal: keepalived's handlers read the word unchecked, and its parser (lib/parser.c,
    null_strvec) answers a missing one with this message and exit(KEEPALIVED_EXIT_CONFIG),
    so keepalived 2.4.3 will not run such a config (nor does -t finish reading it).
    """
    if index < len(words):
        return words[index]
    rep.add(where, Severity.FATAL, missing_parameter(words, index))
    return None


def missing_parameter(words: tuple[str, ...], index: int) -> str:
    """keepalived's null_strvec wording (its backquotes as plain quotes, no word position)."""
    return (
        f"Configuration line starting '{words[0]}' is missing a parameter"
        f" after keyword '{words[index - 1]}'"
    )


def parse_int(
    rep: Reporter, where: Location, keyword: str, text: str | None, lo: int, hi: int
) -> int | None:
    """An integer in [lo, hi]; None (reported) otherwise."""
    if text is None:
        return None
    value: int | None
    try:
        value = int(text, 10)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        rep.error(where, f"{keyword} '{text}' invalid - must be an integer from {lo} to {hi}")
        return None
    return value


def parse_seconds(
    rep: Reporter,
    where: Location,
    keyword: str,
    text: str | None,
    lo: float,
    hi: float,
    places: int = 6,
) -> float | None:
    """A non-negative decimal number of seconds in [lo, hi] with at most ``places`` decimals."""
    if text is None:
        return None
    ok = _DECIMAL.match(text) is not None
    value = float(text) if ok else -1.0
    if ok and "." in text and len(text.split(".", 1)[1]) > places:
        ok = False
    if not ok or not lo <= value <= hi:
        rep.error(
            where,
            f"{keyword} '{text}' invalid - must be a number of seconds from {lo:g} to {hi:g}"
            f" (at most {places} decimals)",
        )
        return None
    return value


# Flags that keepalived 2.2.7 reads an optional on|off|true|false|yes|no for; every other
# flag ignores what follows it (so there ``nopreempt off`` still means nopreempt).
# v3_checksum_as_v2 is newer than 2.2.7 and takes one too.
BOOL_FLAGS = frozenset(
    {
        "skip_check_adv_addr",
        "strict_mode",
        "notify_priority_changes",
        "lower_prio_no_advert",
        "higher_prio_send_advert",
        "vrrp_min_garp",
        "vrrp_lower_prio_no_advert",
        "vrrp_higher_prio_send_advert",
        "vrrp_notify_priority_changes",
        "v3_checksum_as_v2",
    }
)


def parse_flag(rep: Reporter, where: Location, words: tuple[str, ...]) -> bool | None:
    """A flag keyword: alone means on; where keepalived allows it, a boolean says which."""
    if len(words) == 1:
        return True
    if words[0] not in BOOL_FLAGS:
        rep.warning(
            where,
            f"{words[0]} takes no value - '{' '.join(words[1:])}' ignored, {words[0]} is on"
            " (as keepalived 2.2.7 reads it)",
        )
        return True
    word = words[1].lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    rep.error(where, f"{words[0]} '{words[1]}' invalid - must be one of on|off|true|false|yes|no")
    return None


def parse_address(
    rep: Reporter,
    where: Location,
    keyword: str,
    text: str | None,
    family: int | None = None,
    *,
    lenient: bool = False,
) -> IPAddress | None:
    """An IPv4 or IPv6 address (of ``family`` when given); None (reported) otherwise.

    ``lenient``: keepalived's inet_stosockaddr (unicast_src_ip, unicast_peer, multicast
    groups) cuts the text at the first ``-`` or ``/``; so do we, with a warning.
    """
    if text is None:
        return None
    if lenient:
        cut = min((i for i in (text.find("-"), text.find("/")) if i >= 0), default=-1)
        if cut >= 0:
            rep.warning(where, f"{keyword} '{text}': '{text[cut:]}' after the address is ignored")
            text = text[:cut]
    try:
        addr = _ip(text)
    except (ValueError, OSError):
        rep.error(where, f"{keyword} '{text}' invalid - must be an IPv4 or IPv6 address")
        return None
    if family is not None and addr.version != family:
        rep.error(where, f"{keyword} '{text}' invalid - must be an IPv{family} address")
        return None
    return addr


def _ip(text: str) -> IPAddress:
    """inet_pton's reading of an address, as keepalived's (and faster than ip_address)."""
    if ":" in text:
        return ipaddress.IPv6Address(socket.inet_pton(socket.AF_INET6, text))
    return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, text))


def user_group(
    rep: Reporter, where: Location, words: tuple[str, ...], start: int
) -> tuple[str | None, str | None, bool]:
    """``USER [GROUP]`` from ``words[start:]``; the bool is False if there were extra words."""
    rest = words[start:]
    if len(rest) > 2:
        rep.error(where, f"{words[0]}: too many words after the user and group: {' '.join(rest)}")
        return None, None, False
    user = rest[0] if rest else None
    group = rest[1] if len(rest) > 1 else None
    return user, group, True
