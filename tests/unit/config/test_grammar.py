"""A table of grammar cases: comments, quoting, escapes, continuation, VIP options, limits."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest

from astlinux_ha.config import CheckResult, check, check_text
from astlinux_ha.config.argv import split_command
from astlinux_ha.config.model import State
from astlinux_ha.problems import Severity
from astlinux_ha.vrrp.packet import AuthType

BASE = "interface eth0\nvirtual_router_id 7\n"


def inst(body: str, base: str = BASE) -> str:
    """A minimal valid instance around ``body`` (with one VIP unless ``body`` has its own)."""
    if "virtual_ipaddress" not in body:
        body += "\nvirtual_ipaddress {\n10.9.9.9\n}"
    return f"vrrp_instance VI {{\n{base}{body}\n}}\n"


def vips(*lines: str) -> str:
    return inst("virtual_ipaddress {\n" + "\n".join(lines) + "\n}")


def only(r: CheckResult):  # type: ignore[no-untyped-def]
    assert r.config is not None
    (one,) = r.config.instances
    return one


def messages(r: CheckResult, severity: Severity) -> list[str]:
    return [p.render() for p in r.problems if p.severity is severity]


def clean(r: CheckResult) -> bool:
    return r.problems == ()


A = ipaddress.ip_address
# Each case: name, config text, what the model must say, and every problem -t reports for it
# (severity, line or None, a piece of the message), in the order reported.
Expected = tuple[tuple[Severity, int | None, str], ...]
Case = tuple[str, str, Callable[[CheckResult], bool], Expected]


def E(line: int | None, text: str) -> tuple[Severity, int | None, str]:
    return Severity.ERROR, line, text


def W(line: int | None, text: str) -> tuple[Severity, int | None, str]:
    return Severity.WARNING, line, text


def F(line: int | None, text: str) -> tuple[Severity, int | None, str]:
    return Severity.FATAL, line, text


CASES: list[Case] = [
    # comments
    (
        "bang comment",
        inst("priority 50 ! comment"),
        lambda r: only(r).priority == 50 and clean(r),
        (),
    ),
    ("hash comment", inst("priority 51 # x"), lambda r: only(r).priority == 51 and clean(r), ()),
    ("comment line", "# whole line\n! another\n" + inst(""), clean, ()),
    ("comment glued", inst("priority 52#x"), lambda r: only(r).priority == 52, ()),
    (
        "comment inside quotes kept",
        inst('notify_master "/bin/a #b"'),
        lambda r: only(r).notifies.master.command == "/bin/a #b",
        (),
    ),
    (
        "escaped hash",
        inst("notify_master /bin/a\\#b"),
        lambda r: only(r).notifies.master.command == "/bin/a#b",
        (),
    ),
    (
        "escaped bang",
        inst("notify_master /bin/a\\!b"),
        lambda r: only(r).notifies.master.command == "/bin/a!b",
        (),
    ),
    # quoting
    (
        "double quotes group",
        inst("notify \"/x.sh a 'b c'\" user grp"),
        lambda r: (
            (
                only(r).notifies.generic.command,
                only(r).notifies.generic.user,
                only(r).notifies.generic.group,
            )
            == ("/x.sh a 'b c'", "user", "grp")
        ),
        (),
    ),
    (
        "single quotes group",
        inst("notify_backup '/x.sh a b' nobody"),
        lambda r: (
            only(r).notifies.backup.command == "/x.sh a b"
            and only(r).notifies.backup.user == "nobody"
        ),
        (),
    ),
    (
        "hex escape decoded on the first split",
        inst('notify_fault "/x.sh \\x41"'),
        lambda r: only(r).notifies.fault.command == "/x.sh A",
        (),
    ),
    (
        "escaped quote in script",
        inst('notify_stop "/x.sh \\"q\\""'),
        lambda r: only(r).notifies.stop.command == '/x.sh "q"',
        (),
    ),
    # keepalived 2.2.7 ran these as /tmp/q1\x.sh and /tmp/q2x.sh: escapes are done twice
    (
        "four backslashes reach the script as one",
        inst('notify_master "/tmp/q1\\\\\\\\x.sh"'),
        lambda r: split_command(only(r).notifies.master.command) == ["/tmp/q1\\x.sh"],
        (),
    ),
    (
        "two backslashes vanish",
        inst('notify_backup "/tmp/q2\\\\x.sh"'),
        lambda r: split_command(only(r).notifies.backup.command) == ["/tmp/q2x.sh"],
        (),
    ),
    (
        "vrrp_script script escapes",
        'vrrp_script s {\nscript "/bin/chk \\"a b\\" c"\n}\n',
        lambda r: split_command(r.config.script("s").script.command) == ["/bin/chk", "a b", "c"],
        (),
    ),
    (
        "quoted router id",
        'global_defs {\nrouter_id "my router"\n}\n',
        lambda r: r.config.global_defs.router_id == "my router",
        (),
    ),
    (
        "unterminated quote",
        inst('notify "/x.sh'),
        lambda r: any("quote" in m for m in messages(r, Severity.ERROR)),
        (
            E(4, 'unterminated quote in \'notify "/x.sh\''),
            E(4, 'unmatched quote: \'notify "/x.sh\''),
            E(4, 'notify: String \'notify "/x.sh\': missing terminating "'),
        ),
    ),
    (
        "notify user and group",
        inst("notify_master /bin/m root wheel"),
        lambda r: (
            (only(r).notifies.master.user, only(r).notifies.master.group) == ("root", "wheel")
        ),
        (),
    ),
    (
        "notify too many words",
        inst("notify_master /bin/m a b c"),
        lambda r: only(r).notifies.master is None and messages(r, Severity.ERROR),
        (E(4, "notify_master: too many words after the user and group: a"),),
    ),
    # continuation and braces
    ("continuation", inst("priority \\\n 77"), lambda r: only(r).priority == 77 and clean(r), ()),
    (
        "continuation location",
        inst("virtual_ipaddress {\n10.0.0.1 \\\n dev eth1\n}"),
        lambda r: (
            only(r).virtual_ipaddresses[0].device == "eth1"
            and only(r).virtual_ipaddresses[0].where.line == 5
        ),
        (),
    ),
    (
        "brace on next line",
        "vrrp_instance VI\n{\n" + BASE + "}\n",
        lambda r: only(r).name == "VI",
        (E(1, "(VI) No VIP specified; at least one is sensible"),),
    ),
    (
        "closing brace on value line",
        inst("unicast_peer {\n10.0.0.2 }"),
        lambda r: only(r).unicast_peers[0].address == A("10.0.0.2"),
        (),
    ),
    (
        "one-line block",
        inst("virtual_ipaddress { 10.0.0.3 }"),
        lambda r: only(r).virtual_ipaddresses[0].address == A("10.0.0.3"),
        (),
    ),
    (
        "extra closing brace",
        inst("") + "}\n",
        lambda r: any("extra '}'" in m for m in messages(r, Severity.FATAL)),  # 2.4.3 refuses
        (F(9, "extra '}' found - it ends the enclosing block early;"),),
    ),
    (
        "missing closing brace",
        "vrrp_instance VI {\n" + BASE,
        lambda r: any("missing '}'" in m and ":1:" in m for m in messages(r, Severity.FATAL)),
        (
            F(1, "missing '}' at the end of block 'vrrp_instance VI' -"),
            E(1, "(VI) No VIP specified; at least one is sensible"),
        ),
    ),
    (
        "crlf line ends",
        inst("priority 53").replace("\n", "\r\n"),
        lambda r: only(r).priority == 53,
        (),
    ),
    # unknown and unsupported keywords
    (
        "unknown keyword",
        inst("frobnicate 1"),
        lambda r: (
            messages(r, Severity.ERROR) == ["<string>:4: unknown keyword 'frobnicate'"]
            and r.exit_code == 5  # keepalived -t exits 5 too: the line is not run as written
        ),
        (E(4, "unknown keyword 'frobnicate'"),),
    ),
    (
        "unknown block skipped",
        inst("whatever {\npriority 9\n}"),
        lambda r: only(r).priority == 100 and messages(r, Severity.ERROR),
        (E(4, "unknown keyword 'whatever'"),),
    ),
    (
        "typo in a block keyword loses the block",
        inst("unicast_peeer {\n10.0.0.2\n}"),
        lambda r: (
            not only(r).unicast
            and messages(r, Severity.ERROR) == ["<string>:4: unknown keyword 'unicast_peeer'"]
        ),
        (E(4, "unknown keyword 'unicast_peeer'"),),
    ),
    (
        "lvs ignored once",
        inst("") + "virtual_server 1.2.3.4 80 {\nreal_server 5.6.7.8 80 {\n}\n}\n"
        "virtual_server 1.2.3.5 80 {\n}\n",
        lambda r: (
            messages(r, Severity.WARNING)
            == ["<string>:9: LVS (virtual_server) is not supported - ignoring (warning)"]
        ),
        (W(9, "LVS (virtual_server) is not supported - ignoring"),),
    ),
    (
        "track_src_ip accepted without a warning",
        inst("track_src_ip"),
        lambda r: only(r).track_src_ip and not r.problems,
        (),
    ),
    (
        "unsupported keyword named",
        inst("use_ipvlan"),
        lambda r: "not supported" in messages(r, Severity.WARNING)[0],
        (W(4, "keyword 'use_ipvlan' is not supported by astlinux-ha -"),),
    ),
    # virtual_ipaddress options
    (
        "vip default prefix v4",
        vips("10.1.1.1"),
        lambda r: only(r).virtual_ipaddresses[0].prefixlen == 32,
        (),
    ),
    (
        "vip prefix",
        vips("10.1.1.1/24"),
        lambda r: only(r).virtual_ipaddresses[0].prefixlen == 24,
        (),
    ),
    (
        "vip brd +",
        vips("10.1.1.1/24 brd +"),
        lambda r: only(r).virtual_ipaddresses[0].broadcast == A("10.1.1.255"),
        (),
    ),
    (
        "vip brd -",
        vips("10.1.1.1/24 brd -"),
        lambda r: only(r).virtual_ipaddresses[0].broadcast == A("10.1.1.0"),
        (),
    ),
    (
        "vip brd address",
        vips("10.1.1.1/24 broadcast 10.1.1.127"),
        lambda r: only(r).virtual_ipaddresses[0].broadcast == A("10.1.1.127"),
        (),
    ),
    (
        "vip dev scope label",
        vips("10.1.1.1 dev eth1 scope link label eth1:5"),
        lambda r: (lambda v: (v.device, v.scope, v.label) == ("eth1", "link", "eth1:5"))(
            only(r).virtual_ipaddresses[0]
        ),
        (),
    ),
    (
        "vip bad scope",
        vips("10.1.1.1 scope galaxy"),
        lambda r: (
            only(r).virtual_ipaddresses[0].scope is None
            and "galaxy" in messages(r, Severity.ERROR)[0]
        ),
        (E(5, "Invalid scope 'galaxy' specified for 10.1.1.1 - must be"),),
    ),
    (
        "vip label too long drops the address",
        vips("10.1.1.1 label eth0:1234567890123", "10.1.1.2"),
        lambda r: (
            [str(v.address) for v in only(r).virtual_ipaddresses] == ["10.1.1.2"]
            and "removing address" in messages(r, Severity.ERROR)[0]
        ),
        (E(5, "Address label eth0:1234567890123 is longer than maximum"),),
    ),
    (
        "vip peer with prefix takes the peer's prefix",
        vips("10.1.1.1 peer 10.1.1.2/30"),
        lambda r: (
            (only(r).virtual_ipaddresses[0].peer, only(r).virtual_ipaddresses[0].prefixlen)
            == (A("10.1.1.2"), 30)
        ),
        (W(5, "virtual_ipaddress option 'peer' is not supported by astlinux-ha"
              " - 10.1.1.1 is added without it"),),
    ),
    (
        "vip brd + needs a prefix of 30 or less",
        vips("10.1.1.1/31 brd +"),
        lambda r: (
            only(r).virtual_ipaddresses[0].broadcast is None
            and "too long for broadcast" in messages(r, Severity.ERROR)[0]
        ),
        (E(5, "Address prefix length 31 too long for broadcast"),),
    ),
    (
        "vip bad broadcast drops the address",
        vips("10.1.1.1/24 brd 10.1.1.x", "10.1.1.3"),
        lambda r: len(only(r).virtual_ipaddresses) == 1 and r.exit_code == 5,
        (E(5, "VRRP is trying to assign invalid broadcast 10.1.1.x."),),
    ),
    (
        "vip missing value drops the address",
        vips("10.1.1.1 dev", "10.1.1.4"),
        lambda r: (
            [str(v.address) for v in only(r).virtual_ipaddresses] == ["10.1.1.4"]
            and "No dev parameter" in messages(r, Severity.ERROR)[0]
        ),
        (E(5, "No dev parameter specified for 10.1.1.1 - ignoring the"),),
    ),
    (
        "vip dev twice drops the address",
        vips("10.1.1.1 dev eth0 dev eth1", "10.1.1.5"),
        lambda r: len(only(r).virtual_ipaddresses) == 1 and "more than once" in str(r.problems),
        (E(5, "Cannot specify ipaddress device more than once for"),),
    ),
    (
        "vip numeric scope",
        vips("10.1.1.1 scope 253"),
        lambda r: only(r).virtual_ipaddresses[0].scope == "253" and clean(r),
        (),
    ),
    (
        "vip peer",
        vips("10.1.1.1 peer 10.1.1.2"),
        lambda r: only(r).virtual_ipaddresses[0].peer == A("10.1.1.2"),
        (W(5, "virtual_ipaddress option 'peer' is not supported by astlinux-ha"
              " - 10.1.1.1 is added without it"),),
    ),
    (
        "vip flags",
        vips("fd00::1/64 -nodad noprefixroute home mngtmpaddr autojoin no_track"),
        lambda r: (
            lambda v: (
                v.nodad
                and v.noprefixroute
                and v.home
                and v.mngtmpaddr
                and v.autojoin
                and v.no_track
            )
        )(only(r).virtual_ipaddresses[0]),
        tuple(
            W(5, f"virtual_ipaddress option '{o}' is not supported by astlinux-ha"
                 " - fd00::1 is added without it")
            for o in ("home", "mngtmpaddr", "autojoin")
        ),
    ),
    (
        "vip preferred_lft",
        vips("10.1.1.1 preferred_lft forever", "10.1.1.2 preferred_lft 0"),
        lambda r: [v.preferred_lft for v in only(r).virtual_ipaddresses] == [0xFFFFFFFF, 0],
        (W(6, "virtual_ipaddress option 'preferred_lft' is not supported by astlinux-ha"
              " - 10.1.1.2 is added without it"),),
    ),
    (
        "vip unknown option",
        vips("10.1.1.1 sparkly"),
        lambda r: (
            len(only(r).virtual_ipaddresses) == 1 and "sparkly" in messages(r, Severity.ERROR)[0]
        ),
        (E(5, "Unknown configuration entry 'sparkly' for ip address -"),),
    ),
    (
        "vip bad address",
        vips("10.1.1.300"),
        lambda r: (
            only(r).virtual_ipaddresses == () and "10.1.1.300" in messages(r, Severity.ERROR)[0]
        ),
        (
            E(5, "virtual address '10.1.1.300' invalid - must be an IPv4 or"),
            E(1, "(VI) No VIP specified; at least one is sensible"),
        ),
    ),
    (
        "vip ipv6 forces v3",
        vips("fd00::1"),
        lambda r: (
            only(r).version == 3 and only(r).virtual_ipaddresses[0].prefixlen == 128 and clean(r)
        ),
        (),
    ),
    (
        "vip mixed family",
        vips("10.1.1.1", "fd00::1"),
        lambda r: (
            len(only(r).virtual_ipaddresses) == 1 and "one family" in messages(r, Severity.ERROR)[0]
        ),
        (E(6, "(VI) virtual_ipaddress fd00::1 is IPv6 but the instance"),),
    ),
    (
        "vip excluded",
        inst("virtual_ipaddress_excluded {\n10.2.2.2/16\n}"),
        lambda r: only(r).virtual_ipaddresses_excluded[0].prefixlen == 16,
        (E(1, "(VI) No VIP specified; at least one is sensible"),),
    ),
    # routes, peers, tracking, auth
    (
        "route full",
        inst(
            "virtual_routes {\nsrc 10.0.0.1 10.9.0.0/16 via 10.0.0.254 dev eth0 "
            "metric 5 table 100 scope link\n}"
        ),
        lambda r: (
            lambda t: (
                (str(t.destination), t.gateway, t.source, t.device, t.metric, t.table, t.scope)
                == ("10.9.0.0/16", A("10.0.0.254"), A("10.0.0.1"), "eth0", 5, 100, "link")
            )
        )(only(r).virtual_routes[0]),
        (),
    ),
    (
        "route gw and blackhole",
        inst("virtual_routes {\nto 10.8.0.0/16 gw 10.0.0.1\nblackhole 10.7.0.0/16\n}"),
        lambda r: (
            only(r).virtual_routes[0].gateway == A("10.0.0.1")
            and only(r).virtual_routes[1].route_type == "blackhole"
        ),
        (
            E(5, "Warning - cannot track route 10.8.0.0/16 with no"),
            E(6, "Warning - cannot track route 10.7.0.0/16 with no"),
        ),
    ),
    (
        "route default takes the gateway's family",
        inst(
            "virtual_ipaddress {\nfe80::1\n}\n"
            "virtual_routes {\ndefault via fe80::ff dev eth0\ndefault6 dev eth0\n}"
        ),
        lambda r: (
            [str(t.destination) for t in only(r).virtual_routes] == ["::/0", "::/0"] and clean(r)
        ),
        (),
    ),
    (
        "route default is IPv4 without a hint",
        inst("virtual_routes {\ndefault dev eth0\ndefault4 dev eth0 no_track\n}"),
        lambda r: [str(t.destination) for t in only(r).virtual_routes] == ["0.0.0.0/0"] * 2,
        (),
    ),
    (
        "route without dev is not tracked",
        inst("virtual_routes {\n10.6.0.0/16 via 10.0.0.1\n}"),
        lambda r: (
            only(r).virtual_routes[0].no_track
            and messages(r, Severity.ERROR)
            == [
                "<string>:5: Warning - cannot track route 10.6.0.0/16 with no interface"
                " specified, not tracking"
            ]
        ),
        (E(5, "Warning - cannot track route 10.6.0.0/16 with no"),),
    ),
    (
        "peer ttl",
        inst("unicast_peer {\n10.0.0.5 min_ttl 250 max_ttl 255\n}"),
        lambda r: (
            (only(r).unicast_peers[0].min_ttl, only(r).unicast_peers[0].max_ttl) == (250, 255)
        ),
        (),
    ),
    (
        "track interface weight",
        inst("track_interface {\neth1\neth2 weight -20\n}"),
        lambda r: (
            [(t.name, t.weight) for t in only(r).track_interfaces] == [("eth1", 0), ("eth2", -20)]
        ),
        (),
    ),
    (
        "track script undefined",
        inst("track_script {\nchk\n}"),
        lambda r: only(r).track_scripts == () and "chk" in messages(r, Severity.ERROR)[0],
        (E(5, "(VI) track script chk not found, ignoring..."),),
    ),
    (
        "track script defined",
        "vrrp_script chk {\nscript /bin/true\nweight 10\n}\n"
        + inst("track_script {\nchk weight 5 reverse\n}"),
        lambda r: (
            (only(r).track_scripts[0].weight, only(r).track_scripts[0].reverse) == (5, True)
            and r.config.script("chk").weight == 10
            and r.config.script("chk").effective_timeout == 1.0
        ),
        (),
    ),
    (
        "auth pass",
        inst("authentication {\nauth_type PASS\nauth_pass secret123\n}"),
        lambda r: (
            only(r).authentication.auth_type is AuthType.PASS
            and only(r).authentication.password == "secret12"
        ),
        (E(6, "auth_pass is longer than 8 characters - truncating"),),
    ),
    (
        "auth with v3 ignored",
        inst("version 3\nauthentication {\nauth_type PASS\nauth_pass x\n}"),
        lambda r: only(r).authentication is None and messages(r, Severity.ERROR),
        (E(5, "(VI) VRRP version 3 does not support authentication."),),
    ),
    # limits just inside and just outside
    ("vrid 1", inst("", "interface eth0\nvirtual_router_id 1\n"), clean, ()),
    ("vrid 255", inst("", "interface eth0\nvirtual_router_id 255\n"), clean, ()),
    (
        "vrid 0",
        inst("", "interface eth0\nvirtual_router_id 0\n"),
        lambda r: r.exit_code == 4,
        (
            E(3, "virtual_router_id '0' invalid - must be an integer from 1"),
            E(1, "(VI) the virtual router id (virtual_router_id 1-255) must"),
            F(None, "no vrrp_instance is left to run (every one was ignored"),
        ),
    ),
    (
        "vrid 256",
        inst("", "interface eth0\nvirtual_router_id 256\n"),
        lambda r: r.exit_code == 4,
        (
            E(3, "virtual_router_id '256' invalid - must be an integer from"),
            E(1, "(VI) the virtual router id (virtual_router_id 1-255) must"),
            F(None, "no vrrp_instance is left to run (every one was ignored"),
        ),
    ),
    ("priority 1", inst("priority 1"), lambda r: only(r).priority == 1 and clean(r), ()),
    ("priority 255", inst("priority 255"), lambda r: only(r).priority == 255 and clean(r), ()),
    (
        "priority 0",
        inst("priority 0"),
        lambda r: only(r).priority == 100 and r.exit_code == 5,
        (E(4, "priority '0' invalid - must be an integer from 1 to 255"),),
    ),
    (
        "priority 256",
        inst("priority 256"),
        lambda r: only(r).priority == 100 and r.exit_code == 5,
        (E(4, "priority '256' invalid - must be an integer from 1 to 255"),),
    ),
    ("v2 advert 255", inst("advert_int 255"), lambda r: only(r).advert_int == 255 and clean(r), ()),
    (
        "v2 advert 256",
        inst("advert_int 256"),
        lambda r: only(r).advert_int == 1 and r.exit_code == 5,
        (E(4, "advert_int '256' invalid - must be a number of seconds"),),
    ),
    (
        "v2 advert rounds",
        inst("advert_int 1.5"),
        lambda r: only(r).advert_int == 2 and "rounding" in messages(r, Severity.ERROR)[0],
        (E(1, "(VI) VRRPv2 advertisement interval 1.5s must be an"),),
    ),
    (
        "v3 advert 0.01",
        inst("version 3\nadvert_int 0.01"),
        lambda r: only(r).advert_int == 0.01 and clean(r),
        (),
    ),
    (
        "v3 advert 40.95",
        inst("version 3\nadvert_int 40.95"),
        lambda r: only(r).advert_int == 40.95 and clean(r),
        (),
    ),
    (
        "v3 advert 40.96",
        inst("version 3\nadvert_int 40.96"),
        lambda r: only(r).advert_int == 40.95 and r.exit_code == 5,
        (E(1, "(VI) VRRPv3 advertisement interval 40.96s is out of range"),),
    ),
    (
        "advert 0",
        inst("advert_int 0"),
        lambda r: only(r).advert_int == 1 and r.exit_code == 5,
        (E(4, "advert_int '0' invalid - must be a number of seconds from"),),
    ),
    (
        "down_timer_adverts 100/101",
        inst("down_timer_adverts 100"),
        lambda r: only(r).down_timer_adverts == 100 and clean(r),
        (),
    ),
    (
        "down_timer_adverts 101",
        inst("down_timer_adverts 101"),
        lambda r: only(r).down_timer_adverts == 3 and r.exit_code == 5,
        (E(4, "down_timer_adverts '101' invalid - must be an integer"),),
    ),
    ("preempt_delay 1000", inst("preempt_delay 1000"), lambda r: only(r).preempt_delay == 1000, ()),
    (
        "preempt_delay 1001",
        inst("preempt_delay 1001"),
        lambda r: r.exit_code == 5,
        (E(4, "preempt_delay '1001' invalid - must be a number of"),),
    ),
    (
        "script weight 253/254",
        "vrrp_script s {\nscript /bin/true\nweight 254\n}\n",
        lambda r: r.config.script("s").weight == 0 and r.exit_code == 5,
        (E(3, "weight '254' invalid - must be an integer from -253 to 253"),),
    ),
    # keepalived semantics
    (
        "state MASTER no priority",
        inst("state MASTER"),
        lambda r: only(r).priority == 255 and clean(r),
        (),
    ),
    (
        "state MASTER clears nopreempt",
        inst("state MASTER\npriority 100\nnopreempt\npreempt_delay 5"),
        lambda r: (
            not only(r).nopreempt
            and only(r).preempt_delay == 0
            and any("nopreempt will not work" in m for m in messages(r, Severity.ERROR))
        ),
        (
            E(1, "(VI) Warning - nopreempt will not work with initial state"),
            E(1, "(VI) Warning - preempt delay will not work with initial"),
        ),
    ),
    (
        "bad state",
        inst("state LEADER"),
        lambda r: only(r).state is State.BACKUP and r.exit_code == 5,
        (E(4, "state 'LEADER' invalid - must be MASTER or BACKUP; using"),),
    ),
    (
        "no interface",
        "vrrp_instance VI {\nvirtual_router_id 3\n}\n",
        lambda r: r.exit_code == 4,
        (
            E(1, "(VI) multicast needs an interface; give 'interface' or"),
            E(1, "(VI): Unicast instances must have unicast_src_ip or"),
            E(1, "(VI) No VIP specified; at least one is sensible"),
            F(None, "no vrrp_instance is left to run (every one was ignored"),
        ),
    ),
    (
        "unicast_src_ip family",
        inst("unicast_src_ip fd00::1\nvirtual_ipaddress {\n10.0.0.1\n}"),
        lambda r: only(r).unicast_src_ip is None and r.exit_code == 5,
        (E(1, "(VI) unicast_src_ip fd00::1 is not of the instance's"),),
    ),
    (
        "duplicate names",
        inst("") + inst("", "interface eth0\nvirtual_router_id 8\n"),
        # keepalived 2.4.3 keeps the first copy and runs (test_keepalived_243)
        lambda r: (
            r.exit_code == 5
            and only(r).virtual_router_id == 7
            and messages(r, Severity.ERROR) == ["<string>:9: vrrp instance VI already defined"]
        ),
        (E(9, "vrrp instance VI already defined"),),
    ),
    (
        "vrid collision",
        inst("").replace("VI", "A") + inst("").replace("VI", "B"),
        lambda r: r.exit_code == 4 and "VRID 7" in messages(r, Severity.FATAL)[0],
        (F(9, "VRID 7 is used by A (<string>:1) and B on interface eth0"),),
    ),
    (
        "same vrid other family",
        inst("").replace("VI", "A") + inst("virtual_ipaddress {\nfd00::1\n}").replace("VI", "B"),
        clean,
        (),
    ),
    (
        "sync group",
        inst("").replace("VI", "A")
        + inst("", "interface eth1\nvirtual_router_id 7\n").replace("VI", "B")
        + "vrrp_sync_group G {\ngroup {\nA\nB\nC\n}\nnotify_master /bin/g\n}\n",
        lambda r: (
            r.config.sync_groups[0].members == ("A", "B")
            and "C specified in sync group G doesn't exist" in messages(r, Severity.ERROR)[0]
        ),
        (E(21, "Virtual router C specified in sync group G doesn't exist"),),
    ),
    (
        "global garp inherited",
        "global_defs {\nvrrp_garp_master_delay 10\nvrrp_garp_master_repeat 2\n"
        "vrrp_version 3\n}\n" + inst("garp_master_repeat 4"),
        lambda r: (
            (only(r).garp.master_delay, only(r).garp.master_repeat, only(r).version) == (10, 4, 3)
        ),
        (),
    ),
    (
        "global flags",
        "global_defs {\nvrrp_strict\nvrrp_skip_check_adv_addr\nlog_unknown_vrids\n"
        "umask 0133\nnotify_fifo /tmp/f root\nvrrp_notify_fifo_script /bin/s\n}\n",
        lambda r: (
            lambda g: (
                g.vrrp_strict
                and g.vrrp_skip_check_adv_addr
                and g.log_unknown_vrids
                and g.umask == 0o133
                and g.notify_fifo.user == "root"
                and g.vrrp_notify_fifo_script.command == "/bin/s"
            )
        )(r.config.global_defs),
        (),
    ),
    (
        "binary junk is one fatal line",
        inst("") + "\x01\x02 junk\x00\n" * 50,
        lambda r: (
            r.exit_code == 4
            and [p.render() for p in r.problems]
            == ["<string>:9: binary data (byte 0x01) - not a text configuration file"]
        ),
        (F(9, "binary data (byte 0x01) - not a text configuration file"),),
    ),
    (
        "a Latin-1 comment is harmless",
        inst("priority 60 # caf\udce9"),
        lambda r: only(r).priority == 60 and clean(r),
        (),
    ),
    (
        "non-UTF-8 outside a comment drops the line",
        inst("priority 61\nlabel caf\udce9"),
        lambda r: only(r).priority == 61 and "UTF-8" in messages(r, Severity.ERROR)[0],
        (E(5, "not valid UTF-8 text - ignoring line"),),
    ),
    (
        "many unreadable lines stop the read",
        "x\udcff\n" * 30 + inst(""),
        lambda r: r.exit_code == 4 and "unreadable lines" in messages(r, Severity.FATAL)[0],
        (*(E(n, "not valid UTF-8 text") for n in range(1, 12)),
         F(11, "more than 10 unreadable lines")),
    ),
    # keepalived's completion rules (vrrp_complete_instance, 2.2.7 wording)
    (
        "no VIP v2 is an error",
        "vrrp_instance VI {\n" + BASE + "}\n",
        lambda r: r.exit_code == 5 and "at least one is sensible" in messages(r, Severity.ERROR)[0],
        (E(1, "(VI) No VIP specified; at least one is sensible"),),
    ),
    (
        "no VIP v3 cannot run",
        "vrrp_instance VI {\n" + BASE + "version 3\n}\n",
        # the instance is dropped (an error); with no other instance the config cannot run
        lambda r: r.exit_code == 4 and "at least one is required" in messages(r, Severity.ERROR)[0],
        (
            E(1, "(VI) No VIP specified; at least one is required -"),
            F(None, "no vrrp_instance is left to run (every one was ignored"),
        ),
    ),
    (
        "strict refuses unicast",
        inst("strict_mode\nunicast_peer {\n10.0.0.2\n}"),
        lambda r: r.exit_code == 4 and "not supported in strict mode" in r.problems[0].message,
        (
            E(1, "(VI) Unicast peers are not supported in strict mode"),
            F(None, "no vrrp_instance is left to run (every one was ignored"),
        ),
    ),
    (
        "strict MASTER must be owner",
        inst("strict_mode\nstate MASTER\npriority 100"),
        lambda r: only(r).state is State.BACKUP and "must match being address owner" in str(r),
        (E(1, "(VI) State MASTER must match being address owner"),),
    ),
    (
        "strict resets down_timer_adverts",
        inst("strict_mode\ndown_timer_adverts 5"),
        lambda r: only(r).down_timer_adverts == 3 and r.exit_code == 5,
        (E(1, "(VI) down_timer_adverts is incompatible with strict mode"),),
    ),
    (
        "strict v6 first VIP link-local",
        inst("strict_mode\nvirtual_ipaddress {\nfd00::1\n}"),
        lambda r: "must be link local" in messages(r, Severity.ERROR)[0],
        (E(6, "(VI) the first IPv6 VIP address must be link local"),),
    ),
    (
        "preempt_delay with nopreempt",
        inst("nopreempt\npreempt_delay 30"),
        lambda r: only(r).preempt_delay == 0 and only(r).nopreempt and r.exit_code == 5,
        (E(1, "(VI) preempt_delay is incompatible with nopreempt mode -"),),
    ),
    (
        "preempt_delay kept for BACKUP",
        inst("preempt_delay 30"),
        lambda r: only(r).preempt_delay == 30.0 and clean(r),
        (),
    ),
    (
        "AH with initial MASTER",
        inst("state MASTER\nauthentication {\nauth_type AH\nauth_pass x\n}"),
        lambda r: only(r).state is State.BACKUP and "incompatible with AH" in str(r),
        (E(5, "(VI) Initial state master is incompatible with AH"),),
    ),
    (
        "track_interface of its own interface is dropped",
        inst("track_interface {\neth0 weight -5\neth1\n}"),
        lambda r: (
            [t.name for t in only(r).track_interfaces] == ["eth1"]
            and messages(r, Severity.ERROR)
            == ["<string>:1: (VI) Ignoring track_interface eth0 since own interface"]
        ),
        (E(1, "(VI) Ignoring track_interface eth0 since own interface"),),
    ),
    (
        "unicast_src_ip without peers is multicast",
        inst("unicast_src_ip 10.0.0.5"),
        lambda r: (
            not only(r).unicast
            and "Defaulting to multicast" in messages(r, Severity.ERROR)[0]
            and r.exit_code == 5
        ),
        (E(1, "(VI) A unicast keyword has been specified without any"),),
    ),
    (
        "lower-priority burst defaults to the global burst",
        "global_defs {\nvrrp_garp_master_repeat 3\nvrrp_garp_master_delay 2\n}\n"
        + inst("garp_master_repeat 7"),
        lambda r: (
            (only(r).garp.master_repeat, only(r).garp.lower_prio_repeat) == (7, 3)
            and only(r).garp.lower_prio_delay == 2.0
        ),
        (),
    ),
    (
        "strict mode: no lower-priority burst",
        inst("strict_mode\ngarp_lower_prio_repeat 2"),
        lambda r: (
            (only(r).garp.lower_prio_repeat, only(r).garp.lower_prio_delay) == (0, 0.0)
            and "requires no repeat garps" in messages(r, Severity.ERROR)[0]
        ),
        (E(1, "(VI) Strict mode requires no repeat garps. resetting"),),
    ),
    (
        "vrrp_min_garp keeps what was set before it",
        "global_defs {\nvrrp_garp_master_delay 3\nvrrp_min_garp\n}\n" + inst(""),
        lambda r: (
            (only(r).garp.master_repeat, only(r).garp.master_delay, only(r).garp.min_garp)
            == (1, 3.0, True)
        ),
        (),
    ),
    (
        "garp_master_repeat 0 becomes 1",
        inst("garp_master_repeat 0"),
        lambda r: only(r).garp.master_repeat == 1 and r.exit_code == 5,
        (E(4, "garp_master_repeat must be greater than 0, setting to 1"),),
    ),
    (
        "boolean flag off",
        inst("strict_mode off\nlower_prio_no_advert false"),
        lambda r: not only(r).strict_mode and not only(r).lower_prio_no_advert and clean(r),
        (),
    ),
    (
        "boolean flag bad value",
        inst("skip_check_adv_addr maybe"),
        lambda r: "on|off|true|false|yes|no" in messages(r, Severity.ERROR)[0],
        (E(4, "skip_check_adv_addr 'maybe' invalid - must be one of"),),
    ),
    (
        "plain flag ignores its value as keepalived 2.2.7 does",
        inst("nopreempt off"),
        lambda r: (
            only(r).nopreempt
            and messages(r, Severity.WARNING)
            == [
                "<string>:4: nopreempt takes no value - 'off' ignored, nopreempt is on"
                " (as keepalived 2.2.7 reads it) (warning)"
            ]
        ),
        (W(4, "nopreempt takes no value - 'off' ignored, nopreempt is on"),),
    ),
    (
        "value block with extra words",
        inst("virtual_ipaddress timeout {\n10.1.1.1\n}"),
        lambda r: (
            len(only(r).virtual_ipaddresses) == 1
            and messages(r, Severity.ERROR)
            == ["<string>:4: Block virtual_ipaddress has extra parameters timeout ..."]
        ),
        (E(4, "Block virtual_ipaddress has extra parameters timeout ..."),),
    ),
    (
        "unicast addresses lose a /suffix as keepalived's do",
        inst("unicast_src_ip 10.0.0.5/24\nunicast_peer {\n10.0.0.6/24\n}"),
        lambda r: (
            (only(r).unicast_src_ip, only(r).unicast_peers[0].address)
            == (A("10.0.0.5"), A("10.0.0.6"))
            and len(messages(r, Severity.WARNING)) == 2
            and r.exit_code == 0
        ),
        (
            W(4, "unicast_src_ip '10.0.0.5/24': '/24' after the address is"),
            W(6, "unicast_peer '10.0.0.6/24': '/24' after the address is"),
        ),
    ),
    (
        "sync group member loses weighted tracking",
        "vrrp_script s {\nscript /bin/true\nweight 5\n}\n"
        + inst("track_script {\ns\n}\ntrack_interface {\neth1 weight 10\n}").replace("VI", "A")
        + inst("", "interface eth1\nvirtual_router_id 7\n").replace("VI", "B")
        + "vrrp_sync_group G {\ngroup {\nA\nB\n}\n}\n",
        lambda r: (
            r.config.instance("A").track_scripts == ()
            and r.config.instance("A").track_interfaces[0].weight == 0
            and "with weights due to SYNC group" in str(r.problems)
        ),
        (
            E(12, "(A) ignoring eth1 tracked interface weight due to SYNC"),
            E(9, "(A) ignoring tracked script s with weights due to SYNC"),
        ),
    ),
    (
        "sync_group_tracking_weight keeps weights",
        "vrrp_script s {\nscript /bin/true\nweight 5\n}\n"
        + inst("track_script {\ns\n}").replace("VI", "A")
        + inst("", "interface eth1\nvirtual_router_id 7\n").replace("VI", "B")
        + "vrrp_sync_group G {\ngroup {\nA\nB\n}\nsync_group_tracking_weight\n}\n",
        lambda r: len(r.config.instance("A").track_scripts) == 1 and clean(r),
        (),
    ),
    (
        "address owner drops weighted tracking",
        "vrrp_script s {\nscript /bin/true\n}\n"
        + inst("priority 255\ntrack_script {\ns weight 3\n}\ntrack_interface {\neth1 weight 2\n}"),
        lambda r: (
            only(r).track_scripts == ()
            and only(r).track_interfaces == ()
            and "due to address owner" in str(r.problems)
        ),
        (
            E(12, "(VI) ignoring eth1 tracked interface due to address owner"),
            E(9, "(VI) ignoring tracked script s with weights due to"),
        ),
    ),
    (
        "sync group of one is an error",
        inst("") + "vrrp_sync_group G {\ngroup {\nVI\n}\n}\n",
        lambda r: r.exit_code == 5 and "only 1 virtual router" in messages(r, Severity.ERROR)[0],
        (E(9, "Sync group G has only 1 virtual router(s) - this probably"),),
    ),
    (
        "sync group with no known member is removed",
        inst("") + "vrrp_sync_group G {\ngroup {\nX\n}\n}\n",
        lambda r: r.config.sync_groups == () and "removing" in messages(r, Severity.ERROR)[-1],
        (
            E(11, "Virtual router X specified in sync group G doesn't exist"),
            E(9, "Sync group G, no matching virtual router found in group"),
        ),
    ),
    ("accept defaults on", inst(""), lambda r: only(r).accept is True and clean(r), ()),
    (
        "accept defaults off in strict mode",
        inst("strict_mode"),
        lambda r: only(r).accept is False and clean(r),
        (),
    ),
    (
        "accept with strict v2 reset",
        inst("strict_mode\naccept"),
        lambda r: only(r).accept is False and "RFC3768" in messages(r, Severity.ERROR)[0],
        (E(1, "(VI) warning - accept mode for VRRP version 2 does not"),),
    ),
    (
        "owner accepts in strict mode",
        inst("strict_mode\nstate MASTER"),
        lambda r: (only(r).priority, only(r).accept) == (255, True) and clean(r),
        (),
    ),
]


@pytest.mark.parametrize(("text", "ok", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_grammar(text: str, ok: Callable[[CheckResult], bool], expected: Expected) -> None:
    result = check_text(text)
    rendered = [p.render() for p in result.problems]
    got = [(p.severity, p.where.line if p.where else None, p.message) for p in result.problems]
    assert len(got) == len(expected), rendered
    for (severity, line, piece), (got_severity, got_line, message) in zip(
            expected, got, strict=True):
        assert (got_severity, got_line) == (severity, line) and piece in message, rendered
    assert ok(result), rendered


def test_include_relative_glob_and_missing(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text(inst("priority 42"))
    (tmp_path / "main.conf").write_text("include conf.d/*.conf\ninclude nothing/here.conf\n")
    result = check(str(tmp_path / "main.conf"))
    # keepalived 2.4.3 names the missing file (2.2.7 said nothing); -t still exits 0.
    assert [p.render() for p in result.problems] == [
        f"{tmp_path}/main.conf:2: Config files missing 'nothing/here.conf'. (warning)"
    ]
    assert result.exit_code == 0
    assert only(result).priority == 42
    assert str(only(result).where) == f"{tmp_path}/conf.d/a.conf:1"


def test_include_loop_is_fatal(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include b.conf\n")
    (tmp_path / "b.conf").write_text("include a.conf\n")
    result = check(str(tmp_path / "a.conf"))
    assert result.exit_code == 4
    assert any("include loop" in p.message for p in result.problems)


def test_include_brace_expansion(tmp_path: Path) -> None:
    (tmp_path / "x.conf").write_text(inst("").replace("VI", "X"))
    (tmp_path / "y.conf").write_text(
        inst("", "interface eth1\nvirtual_router_id 7\n").replace("VI", "Y")
    )
    (tmp_path / "m.conf").write_text("include {x,y}.conf\n")
    result = check(str(tmp_path / "m.conf"))
    assert [i.name for i in result.config.instances] == ["X", "Y"]


def test_huge_file_is_a_clear_fatal_error(tmp_path: Path) -> None:
    big = tmp_path / "big.conf"
    big.write_bytes(b"! filler\n" * (10 * 1024 * 1024 // 9))
    result = check(str(big))
    assert result.exit_code == 4
    assert any("too large" in p.message for p in result.problems)


def test_invalid_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "k.conf"
    path.write_bytes(inst("").encode() + b"\xff\xfe bad\n")
    result = check(str(path))
    assert any("UTF-8" in p.message and p.where.line == 9 for p in result.problems)
