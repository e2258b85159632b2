"""Which uid, gid and groups a script runs as, resolved the way keepalived resolves them.

- ``script_user USER [[:]GROUP]`` sets the default; a notify line's trailing ``USER [GROUP]``
  and a vrrp_script's ``user USER [[:]GROUP]`` override it.
- Without ``script_user`` the default is ``keepalived_script`` if it exists, else the daemon's
  own euid/egid (logged ``Script user 'keepalived_script' does not exist``). With
  ``enable_script_security`` a missing ``keepalived_script`` is a config error and scripts
  without an explicit user are dropped.
- The group is the user's primary group unless one is named. A ``:`` before the group (or
  ``:`` alone) also keeps the user's supplementary groups from getgrouplist(); otherwise the
  child's group list is just the gid (keepalived's ``setgroups(1, &gid)``).
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass

from astlinux_ha.problems import Location, Problem, Severity

DEFAULT_SCRIPT_USER = "keepalived_script"


@dataclass(frozen=True)
class UserSpec:
    """A user and optional group exactly as written in the config."""

    user: str
    group: str | None = None
    where: Location | None = None


@dataclass(frozen=True)
class ScriptUser:
    """Credentials a script runs with: setgid(gid), setgroups(groups), setuid(uid)."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    name: str

    @property
    def privileged(self) -> bool:
        """True when keepalived would walk the script's path (uid 0 or gid 0)."""
        return self.uid == 0 or self.gid == 0


@dataclass(frozen=True)
class UserResolution:
    """The user a script gets (None: the script must be dropped) and what to report."""

    user: ScriptUser | None
    problems: tuple[Problem, ...] = ()


class UserLookupError(LookupError):
    """A user or group does not exist; the message is keepalived's log line."""


def resolve_user(user: str, group: str | None = None, *, supplementary: bool = False) -> ScriptUser:
    """Look up ``USER [[:]GROUP]``; raises UserLookupError with keepalived's wording."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise UserLookupError(f"Script user '{user}' does not exist") from None
    gid = entry.pw_gid
    if group is not None and group.startswith(":"):
        supplementary = True
        group = group[1:] or None
    if group is not None:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise UserLookupError(f"Script group '{group}' does not exist") from None
    if supplementary:
        # getgrouplist is keyed on the user's own primary gid, as keepalived calls it.
        groups = tuple(os.getgrouplist(user, entry.pw_gid))
    else:
        groups = (gid,)
    return ScriptUser(uid=entry.pw_uid, gid=gid, groups=groups, name=user)


def our_user() -> ScriptUser:
    """The daemon's own effective credentials, the fallback default."""
    uid, gid = os.geteuid(), os.getegid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return ScriptUser(uid=uid, gid=gid, groups=(gid,), name=name)


def resolve_default_user(
    script_user: UserSpec | None,
    *,
    security_enabled: bool,
    supplementary: bool = False,
) -> UserResolution:
    """The default user for scripts that name none (global ``script_user`` or keepalived's)."""
    if script_user is not None:
        try:
            user = resolve_user(script_user.user, script_user.group, supplementary=supplementary)
        except UserLookupError as exc:
            return UserResolution(
                None,
                (
                    Problem(script_user.where, Severity.WARNING, str(exc)),
                    Problem(
                        script_user.where, Severity.ERROR, "Error setting global script uid/gid"
                    ),
                ),
            )
        return UserResolution(user)
    try:
        return UserResolution(resolve_user(DEFAULT_SCRIPT_USER, supplementary=supplementary))
    except UserLookupError as exc:
        missing = Problem(None, Severity.WARNING, str(exc))
        if security_enabled:
            return UserResolution(
                None,
                (
                    missing,
                    Problem(
                        None,
                        Severity.ERROR,
                        f"Unable to set default user {DEFAULT_SCRIPT_USER} for script",
                    ),
                ),
            )
        return UserResolution(our_user(), (missing,))


def resolve_script_user(
    spec: UserSpec | None,
    default: UserResolution,
    *,
    kind: str,
    argv0: str,
    where: Location | None = None,
    supplementary: bool = False,
) -> UserResolution:
    """The user for one script: its own ``USER [GROUP]`` if given, else the default.

    ``kind`` names the script in keepalived's messages (``notify_master``, ``vrrp_script``...).
    The default's own problems are not repeated here; report them once.
    """
    if spec is not None:
        try:
            return UserResolution(resolve_user(spec.user, spec.group, supplementary=supplementary))
        except UserLookupError as exc:
            at = spec.where or where
            return UserResolution(
                None,
                (
                    Problem(at, Severity.WARNING, str(exc)),
                    Problem(
                        at,
                        Severity.ERROR,
                        f"Invalid user/group for {kind} script {argv0} - ignoring",
                    ),
                ),
            )
    if default.user is None:
        return UserResolution(
            None,
            (
                Problem(
                    where,
                    Severity.ERROR,
                    f"Failed to set default user for {kind} script {argv0} - ignoring",
                ),
            ),
        )
    return UserResolution(default.user)
