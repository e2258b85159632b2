"""Every script a config would run, checked the way keepalived checks them at start-up.

This is the bridge between the typed config and ``astlinux_ha.scripts``: it splits each
configured command into argv (keepalived's second split), resolves the user it runs as
(``script_user`` or the script's own ``USER [GROUP]``), asks ``scripts.security`` for a
verdict, and turns the findings into config :class:`Problem` lines, so ``-t`` exits 6 for a
script that enable_script_security refuses. The daemon can use the same verdicts to decide
what it may run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from astlinux_ha.config.argv import CommandSyntaxError, split_command
from astlinux_ha.config.model import Config, Notifies, ScriptCommand
from astlinux_ha.problems import Problem, Severity
from astlinux_ha.scripts import users

if TYPE_CHECKING:
    from astlinux_ha.scripts import security as sec

_NOTIFY_KINDS = (
    ("master", "notify_master"),
    ("backup", "notify_backup"),
    ("fault", "notify_fault"),
    ("stop", "notify_stop"),
    ("deleted", "notify_deleted"),
    ("master_rx_lower_pri", "notify_master_rx_lower_pri"),
    ("generic", "notify"),
)


@dataclass(frozen=True, slots=True)
class ConfiguredScript:
    """One script of the config with its keyword (``notify_master``, ``vrrp_script``...)."""

    kind: str
    command: ScriptCommand
    track_name: str | None = None  # the vrrp_script's name, for keepalived's wording


@dataclass(frozen=True, slots=True)
class ScriptCheck:
    """The outcome for one script: argv, user and verdict (None where it was dropped early)."""

    script: ConfiguredScript
    argv: tuple[str, ...] | None
    user: users.ScriptUser | None
    verdict: sec.Verdict | None

    @property
    def runnable(self) -> bool:
        """True when the daemon may run this script."""
        return self.verdict is not None and self.verdict.runnable


@dataclass(frozen=True, slots=True)
class ScriptReport:
    """Every script's check and every problem found, in config order."""

    checks: tuple[ScriptCheck, ...]
    problems: tuple[Problem, ...]


def configured_scripts(config: Config) -> Iterator[ConfiguredScript]:
    """Every script the config names, in the order keepalived reads them."""
    g = config.global_defs
    for kind in ("notify_fifo_script", "vrrp_notify_fifo_script"):
        command = getattr(g, kind)
        if command is not None:
            yield ConfiguredScript(kind, command)
    for scr in config.scripts:
        if scr.script is not None:
            yield ConfiguredScript("vrrp_script", scr.script, scr.name)
    for inst in config.instances:
        yield from _notifies(inst.notifies)
    for group in config.sync_groups:
        yield from _notifies(group.notifies)


def _notifies(notifies: Notifies) -> Iterator[ConfiguredScript]:
    for slot, kind in _NOTIFY_KINDS:
        command = getattr(notifies, slot)
        if command is not None:
            yield ConfiguredScript(kind, command)


def check_scripts(config: Config) -> ScriptReport:
    """Check every script of ``config`` as keepalived does at start-up; never raises."""
    g = config.global_defs
    security = g.enable_script_security
    scripts = list(configured_scripts(config))
    if not scripts and g.script_user is None:
        return ScriptReport((), ())
    spec = None
    if g.script_user is not None:
        spec = users.UserSpec(g.script_user.user, g.script_user.group, g.script_user.where)
    # keepalived resolves script_user while reading global_defs, scripts or not.
    default = users.resolve_default_user(spec, security_enabled=security)
    problems = [
        p if p.where is not None else Problem(g.where, p.severity, p.message)
        for p in default.problems
    ]
    if not scripts:
        return ScriptReport((), tuple(problems))
    # Loaded only for a config with scripts: it takes 17 ms to import (ctypes, libc).
    from astlinux_ha.scripts import security as sec

    checks: list[ScriptCheck] = []
    verdicts: list[sec.CheckedScript] = []
    # One look at each script file per user: 5000 instances may all name the same notify.
    seen: dict[tuple[str, int, int], sec.Verdict] = {}
    for item in scripts:
        check, found = _check_one(item, default, security, seen)
        checks.append(check)
        problems += found
        if check.verdict is not None:
            verdicts.append(
                sec.CheckedScript(item.kind, check.verdict, item.command.where, item.track_name)
            )
    problems += sec.script_problems(verdicts, security_enabled=security)
    return ScriptReport(tuple(checks), tuple(problems))


def _check_one(
    item: ConfiguredScript, default: users.UserResolution, security: bool,
    seen: dict[tuple[str, int, int], sec.Verdict],
) -> tuple[ScriptCheck, list[Problem]]:
    command = item.command
    where = command.where
    try:
        argv = tuple(split_command(command.command))
    except CommandSyntaxError as err:
        return ScriptCheck(item, None, None, None), [Problem(where, Severity.ERROR, str(err))]
    own = users.UserSpec(command.user, command.group, where) if command.user else None
    resolved = users.resolve_script_user(own, default, kind=item.kind, argv0=argv[0], where=where)
    found = list(resolved.problems)
    if resolved.user is None:
        return ScriptCheck(item, argv, None, None), found
    key = (argv[0], resolved.user.uid, resolved.user.gid)
    verdict = seen.get(key)
    if verdict is None:
        from astlinux_ha.scripts import security as sec

        verdict = seen[key] = sec.check_script(
            argv[0], resolved.user.uid, resolved.user.gid, security_enabled=security
        )
    return ScriptCheck(item, argv, resolved.user, verdict), found
