"""The keyword table (tests/data/keywords.toml) against what the config reader accepts.

Every keyword the reader takes without an "unknown" error must be in the table, with either
the test that shows it working or the reason it is not supported; and every unsupported one
must get a ``-t`` warning that names it. So a keyword can no longer be accepted and ignored:
teach the parser a new one and this test fails until the table says what it does.

What is accepted is not copied by hand: every string constant of astlinux_ha.config (and each
with keepalived's ``vrrp_`` prefix, which global_defs puts before the garp keywords) is tried
in every section, one per line, and a word counts as accepted there unless the reader calls
it unknown on its line. A named test must exist and mention its keyword (a conformance case:
in its keepalived.conf).

The tests at the end show the keywords no other test reads from a config: the VIP and route
options the conformance netlink channel does not print, the multicast groups, includer and
includea, global_tracking, an instance's strict_mode.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from ipaddress import ip_address
from pathlib import Path

import pytest

import astlinux_ha.config as config_pkg
from astlinux_ha.config import check_text
from astlinux_ha.config.addresses import ROUTE_TYPES
from astlinux_ha.config.lexer import _INCLUDE_VARIANTS
from astlinux_ha.net import scope_id
from astlinux_ha.problems import Problem, Severity
from astlinux_ha.runtime import accept, plan

ROOT = Path(__file__).resolve().parents[3]
TABLE = ROOT / "tests" / "data" / "keywords.toml"
_WORD = re.compile(r"^-?[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Section:
    """Where a keyword sits: how to put one candidate on a line of a config there, and the
    reader's message when it does not know the word."""

    name: str
    wrap: Callable[[list[str]], str]  # candidate lines -> the whole config
    line: Callable[[str, int], str]  # (candidate, its index) -> its line
    unknown: Callable[[str], str]  # candidate -> the start of the "unknown" message
    first_line: int  # the config line the first candidate lands on


def _instance(body: list[str]) -> str:
    return "vrrp_instance VI_1 {\n" + "\n".join(body) + "\n}\n"


def _in_block(block: str) -> Callable[[list[str]], str]:
    return lambda lines: _instance([f"{block} {{", *lines, "}"])


def _unknown_keyword(word: str) -> str:
    return f"unknown keyword '{word}'"


SECTIONS = (
    Section("top", "\n".join, lambda w, i: f"{w} 1", _unknown_keyword, 1),
    Section(
        "global_defs",
        lambda lines: "global_defs {\n" + "\n".join(lines) + "\n}\n",
        lambda w, i: f"{w} 1",
        _unknown_keyword,
        2,
    ),
    Section("vrrp_instance", _instance, lambda w, i: f"{w} 1", _unknown_keyword, 2),
    Section(
        "vrrp_script",
        lambda lines: "vrrp_script chk {\n" + "\n".join(lines) + "\n}\n",
        lambda w, i: f"{w} 1",
        _unknown_keyword,
        2,
    ),
    Section(
        "vrrp_sync_group",
        lambda lines: "vrrp_sync_group G1 {\n" + "\n".join(lines) + "\n}\n",
        lambda w, i: f"{w} 1",
        _unknown_keyword,
        2,
    ),
    Section("authentication", _in_block("authentication"), lambda w, i: f"{w} 1",
            _unknown_keyword, 3),
    # An option alone on its line: a flag is taken, a valued one misses its value (an error,
    # but a known option), an unknown one is called unknown.
    Section(
        "virtual_ipaddress",
        _in_block("virtual_ipaddress"),
        lambda w, i: f"10.{i // 250}.{i % 250}.1 {w}",
        lambda w: f"Unknown configuration entry '{w}' for ip address",
        3,
    ),
    Section(
        "virtual_routes",
        _in_block("virtual_routes"),
        lambda w, i: f"192.168.{i % 250}.0/24 {w}",
        lambda w: f"unknown route option '{w}'",
        3,
    ),
    Section(
        "unicast_peer",
        _in_block("unicast_peer"),
        lambda w, i: f"10.0.0.9 {w} 1",
        lambda w: f"unknown unicast_peer option '{w}'",
        3,
    ),
    # track_interface lines: NAME [weight N [reverse]] (track_script lines share the reader).
    Section(
        "track",
        _in_block("track_interface"),
        lambda w, i: f"eth0 weight 1 {w}" if w == "reverse" else f"eth0 {w} 1",
        lambda w: f"track_interface eth0: unknown option '{w}'",
        3,
    ),
)


def _constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


@cache
def candidates() -> tuple[str, ...]:
    """Every keyword-shaped string constant of astlinux_ha/config/, and each ``vrrp_``-prefixed."""
    words: set[str] = set()
    for path in Path(config_pkg.__file__).parent.glob("*.py"):
        words |= {w for w in _constants(path) if _WORD.match(w)}
    words |= {f"vrrp_{w}" for w in words}
    # The reader's own directives act on any line before the parser sees it.
    return tuple(sorted(words - set(_INCLUDE_VARIANTS)))


def _problems_by_line(text: str) -> dict[int, list[Problem]]:
    out: dict[int, list[Problem]] = {}
    for p in check_text(text).problems:
        if p.where is not None:
            out.setdefault(p.where.line, []).append(p)
    return out


@cache
def accepted() -> dict[str, frozenset[str]]:
    """Section -> the candidate words its reader does not call unknown."""
    out: dict[str, frozenset[str]] = {}
    words = candidates()
    for section in SECTIONS:
        text = section.wrap([section.line(w, i) for i, w in enumerate(words)])
        by_line = _problems_by_line(text)
        taken = set()
        for i, word in enumerate(words):
            here = by_line.get(section.first_line + i, [])
            if not any(p.message.startswith(section.unknown(word)) for p in here):
                taken.add(word)
        out[section.name] = frozenset(taken)
    # A route line may start with its type (ip route's own grammar): the reader's table.
    out["virtual_routes"] |= ROUTE_TYPES
    out["lexer"] = frozenset(_INCLUDE_VARIANTS)
    return out


@cache
def table() -> dict[str, dict[str, dict[str, str]]]:
    """The keyword table: section -> keyword -> {test = ...} or {unsupported = ...}."""
    with TABLE.open("rb") as f:
        return tomllib.load(f)


def _entries() -> list[tuple[str, str, dict[str, str]]]:
    return [(s, k, e) for s, keys in table().items() for k, e in keys.items()]


def test_the_probe_finds_known_keywords_and_rejects_a_made_up_one() -> None:
    """The probe itself: it must see a plain keyword, a garp one reached only through the
    vrrp_ prefix, a VIP option, and must not take a word no reader knows."""
    got = accepted()
    assert "priority" in got["vrrp_instance"]
    assert "vrrp_garp_master_delay" in got["global_defs"]
    assert "label" in got["virtual_ipaddress"]
    assert "min_ttl" in got["unicast_peer"]
    for section in got.values():
        assert "vrrp_vrrp_priority" not in section
        assert "unknown" not in section


def test_every_accepted_keyword_is_in_the_table() -> None:
    missing = {
        f"[{s}] {k}"
        for s, keys in accepted().items()
        for k in keys
        if k not in table().get(s, {})
    }
    assert not missing, f"accepted by the reader but not in {TABLE.name}: {sorted(missing)}"


def test_every_table_keyword_is_accepted() -> None:
    extra = {f"[{s}] {k}" for s, k, _ in _entries() if k not in accepted().get(s, frozenset())}
    assert not extra, f"in {TABLE.name} but the reader calls them unknown: {sorted(extra)}"


@pytest.mark.parametrize(("section", "keyword", "entry"), _entries(), ids=lambda v: str(v))
def test_entry_says_one_thing(section: str, keyword: str, entry: dict[str, str]) -> None:
    """One of: ``test`` (what shows it working) or ``unsupported`` (why not; -t warns).
    A keyword that is supported but shown by no test is not allowed: accepted and ignored
    is exactly what the table is there to rule out."""
    assert len(entry) == 1 and set(entry) <= {"test", "unsupported"}, entry
    assert str(next(iter(entry.values()))).strip()


def _test_text(ref: str) -> str:
    """The text of the test ``ref`` names (its config for a conformance case); fails if the
    file, the test function or the case is not there."""
    if ref.startswith("tests/conformance/cases/"):
        case = ROOT / ref
        assert case.is_dir(), f"no conformance case {ref}"
        return "\n".join(p.read_text() for p in sorted(case.glob("keepalived.conf*")))
    path, _, name = ref.partition("::")
    file = ROOT / path
    assert file.is_file(), f"no test file {path}"
    text = file.read_text()
    assert name, f"{ref}: name the test, as FILE::test_name"
    assert re.search(rf"^\s*(async )?def {re.escape(name)}\(", text, re.M), f"no {name} in {path}"
    return text


@pytest.mark.parametrize(
    ("section", "keyword", "ref"),
    [(s, k, e["test"]) for s, k, e in _entries() if "test" in e],
    ids=lambda v: str(v),
)
def test_the_test_exists_and_uses_the_keyword(section: str, keyword: str, ref: str) -> None:
    text = _test_text(ref)
    assert re.search(rf"(?<![\w-]){re.escape(keyword)}(?![\w-])", text), (
        f"{ref} never mentions {keyword}"
    )


# Options that are dropped with their line when their value is missing or bad: the
# unsupported check gives them a good one, so the line survives to be warned about.
VALUES = {
    ("virtual_ipaddress", "peer"): "10.0.0.2",
    ("virtual_ipaddress", "preferred_lft"): "0",
    ("virtual_routes", "protocol"): "static dev eth0",
    ("virtual_routes", "proto"): "static dev eth0",
    ("vrrp_sync_group", "notify_priority_changes"): "on",
}


def _one(section: str, keyword: str) -> tuple[str, int]:
    """A tiny config with ``keyword`` in ``section``, and the line it is on."""
    for s in SECTIONS:
        if s.name == section:
            value = VALUES.get((section, keyword))
            word = keyword if value is None else f"{keyword} {value}"
            return s.wrap([s.line(word, 0)]), s.first_line
    raise AssertionError(f"no way to write a [{section}] keyword")


@pytest.mark.parametrize(
    ("section", "keyword"),
    [(s, k) for s, k, e in _entries() if "unsupported" in e],
    ids=lambda v: str(v),
)
def test_unsupported_keyword_is_warned_at_t(section: str, keyword: str) -> None:
    """``-t`` on a config holding just this keyword warns that it is not supported here,
    naming it (or at its line: the virtual_server blocks are named as LVS)."""
    text, line = _one(section, keyword)
    problems = check_text(text).problems
    assert any(
        "not supported" in p.message
        and (keyword in p.message or (p.where is not None and p.where.line == line))
        for p in problems
        if p.severity is Severity.WARNING
    ), [p.render() for p in problems]


# The VIP and route options the conformance netlink channel does not print: read from a
# config, each must reach the request the address manager sends the kernel (which
# tests/net/test_net_addresses.py shows the kernel takes, field by field).
OPTIONS = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 50
    virtual_ipaddress {
        10.10.50.244/24 brd + scope link
        10.10.50.245/24 broadcast 10.10.50.127
        10.10.50.246 -nodad noprefixroute
    }
    virtual_routes {
        192.168.7.0/24 via 10.10.50.1 dev eth0 onlink src 10.10.50.244 preference 7
        192.168.8.0/24 dev eth0 scope link priority 9
        local 192.168.9.1/32 dev eth0
        broadcast 192.168.10.255/32 dev eth0
        multicast 224.1.1.0/24 dev eth0
    }
}
"""


def test_vip_and_route_options_reach_the_kernel_request() -> None:
    result = check_text(OPTIONS)
    assert result.problems == (), [p.render() for p in result.problems]
    assert result.config is not None
    (inst,) = result.config.instances
    brd, broadcast, flags = plan.vips(inst)
    assert (brd.broadcast, brd.scope) == (ip_address("10.10.50.255"), scope_id("link"))
    assert broadcast.broadcast == ip_address("10.10.50.127")
    assert (flags.nodad, flags.noprefixroute) == (True, True)
    assert (brd.nodad, brd.noprefixroute) == (False, False)
    via, scoped, local, bcast, mcast = plan.routes(inst)
    assert (via.gateway, via.src, via.onlink, via.metric) == (
        ip_address("10.10.50.1"), ip_address("10.10.50.244"), True, 7)
    assert (scoped.scope, scoped.metric, scoped.onlink) == (scope_id("link"), 9, False)
    assert [r.kind for r in (via, local, bcast, mcast)] == [
        "unicast", "local", "broadcast", "multicast"]


GROUPS = """global_defs {
    vrrp_mcast_group4 224.0.0.19
    vrrp_mcast_group6 ff02::13
}
vrrp_instance V4 {
    interface eth0
    virtual_router_id 50
    virtual_ipaddress {
        10.10.50.244
    }
}
vrrp_instance V6 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        fe80::50
    }
}
"""


def test_the_multicast_groups_reach_the_socket() -> None:
    """The group each family's multicast socket joins and sends to (the supervisor hands
    the receive params' group to the socket pool)."""
    result = check_text(GROUPS)
    assert result.config is not None
    groups = [
        plan.receive_params(result.config, plan.plan(result.config, inst, frozenset())).group
        for inst in result.config.instances
    ]
    assert groups == [ip_address("224.0.0.19"), ip_address("ff02::13")]


def test_includer_reads_as_include_and_includea_makes_a_missing_file_an_error(
    tmp_path: Path,
) -> None:
    """The include variants without a test of their own: ``includer`` reports a missing
    file as plain ``include`` does (a warning), ``includea`` makes it an error (-t exits 5);
    both read the file that is there."""
    (tmp_path / "a.conf").write_text(
        "vrrp_instance VI {\n interface eth0\n virtual_router_id 7\n"
        " virtual_ipaddress {\n 10.9.9.9\n }\n}\n"
    )
    for variant, severity, code in (
        ("includer", Severity.WARNING, 0),
        ("includea", Severity.ERROR, 5),
    ):
        main = tmp_path / f"{variant}.conf"
        main.write_text(f"{variant} a.conf\n{variant} nothere.conf\n")
        result = config_pkg.check(str(main))
        assert result.config is not None
        assert [i.name for i in result.config.instances] == ["VI"]
        assert [(p.severity, p.where.line if p.where else None) for p in result.problems] == [
            (severity, 2)
        ], [p.render() for p in result.problems]
        assert result.exit_code == code


def _sync_group(flag: str) -> str:
    member = """vrrp_instance {name} {{
    interface eth0
    virtual_router_id {vrid}
    track_interface {{
        eth1 weight -20
    }}
    virtual_ipaddress {{
        10.10.50.{vrid}
    }}
}}
"""
    return (
        member.format(name="VI_1", vrid=50)
        + member.format(name="VI_2", vrid=51)
        + "vrrp_sync_group G1 {\n    group {\n        VI_1\n        VI_2\n    }\n"
        + f"    {flag}\n}}\n"
    )


def test_global_tracking_is_sync_group_tracking_weight_with_a_warning() -> None:
    """The deprecated alias keeps the members' weighted tracks as the keyword it stands
    for does; without either, a member's weight is cleared (down means FAULT)."""

    def weights(flag: str) -> tuple[list[int], list[str]]:
        result = check_text(_sync_group(flag))
        assert result.config is not None
        got = [t.weight for inst in result.config.instances for t in inst.track_interfaces]
        return got, [p.message for p in result.problems if p.severity is Severity.WARNING]

    assert weights("sync_group_tracking_weight") == ([-20, -20], [])
    assert weights("global_tracking") == (
        [-20, -20], ["global_tracking is deprecated - use sync_group_tracking_weight"])
    assert weights("")[0] == [0, 0]


def test_strict_mode_on_the_instance_drops_its_vips_as_vrrp_strict_does() -> None:
    """The instance form of vrrp_strict (tests/interop/test_no_accept.py runs the global
    one): its VIPs are dropped while master unless accept is given (which strict VRRPv2
    resets, as keepalived does: RFC 3768 has no accept mode)."""
    def refuses(head: str, body: str) -> bool:
        result = check_text(
            f"{head}vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 50\n"
            f"{body}    virtual_ipaddress {{\n        10.10.50.244\n    }}\n}}\n"
        )
        assert result.config is not None, [p.render() for p in result.problems]
        (inst,) = result.config.instances
        return accept.refuses(inst)

    assert refuses("", "    strict_mode\n")
    assert refuses("global_defs {\n    vrrp_strict\n}\n", "")
    assert not refuses("", "    strict_mode\n    version 3\n    accept\n")
    assert refuses("", "    strict_mode\n    accept\n")
    assert not refuses("global_defs {\n    vrrp_strict\n}\n", "    strict_mode off\n")
    assert not refuses("", "")
