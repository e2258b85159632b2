"""Script users resolve as keepalived resolves them (uses this system's passwd/group)."""

from __future__ import annotations

import os
import pwd

import pytest

from astlinux_ha.problems import Location, Severity
from astlinux_ha.scripts import users
from astlinux_ha.scripts.users import (
    UserLookupError,
    UserSpec,
    resolve_default_user,
    resolve_script_user,
    resolve_user,
)

HAS_KEEPALIVED_SCRIPT = any(p.pw_name == "keepalived_script" for p in pwd.getpwall())


def test_user_with_group() -> None:
    user = resolve_user("nobody", "nogroup")
    assert (user.uid, user.gid, user.groups) == (65534, 65534, (65534,))
    assert not user.privileged


def test_primary_group_is_the_default_and_root_is_privileged() -> None:
    root = resolve_user("root")
    assert (root.uid, root.gid, root.groups) == (0, 0, (0,))
    assert root.privileged
    assert resolve_user("nobody", "root").privileged, "gid 0 alone makes the path walk apply"


def test_colon_group_keeps_supplementary_groups() -> None:
    user = resolve_user("root", ":nogroup")
    assert user.gid == 65534
    assert user.groups == tuple(os.getgrouplist("root", 0))
    assert resolve_user("root", ":").gid == 0


def test_missing_user_and_group_messages() -> None:
    with pytest.raises(UserLookupError, match="Script user 'no_such_user_x' does not exist"):
        resolve_user("no_such_user_x")
    with pytest.raises(UserLookupError, match="Script group 'no_such_group_x' does not exist"):
        resolve_user("root", "no_such_group_x")


def test_script_user_given() -> None:
    result = resolve_default_user(UserSpec("nobody", "nogroup"), security_enabled=True)
    assert result.user is not None and result.user.uid == 65534
    assert result.problems == ()


def test_bad_script_user_is_a_config_error_and_drops_default_scripts() -> None:
    spec = UserSpec("nope_x", where=Location("k.conf", 3))
    default = resolve_default_user(spec, security_enabled=False)
    assert default.user is None
    assert [p.message for p in default.problems] == [
        "Script user 'nope_x' does not exist",
        "Error setting global script uid/gid",
    ]
    assert default.problems[1].severity is Severity.ERROR
    assert default.problems[1].where == Location("k.conf", 3)
    script = resolve_script_user(None, default, kind="notify_master", argv0="/x.sh")
    assert script.user is None
    assert script.problems[0].message == (
        "Failed to set default user for notify_master script /x.sh - ignoring"
    )
    own = resolve_script_user(UserSpec("root"), default, kind="notify", argv0="/x.sh")
    assert own.user is not None and own.user.uid == 0


@pytest.mark.skipif(HAS_KEEPALIVED_SCRIPT, reason="this system has a keepalived_script user")
def test_no_keepalived_script_user(monkeypatch: pytest.MonkeyPatch) -> None:
    off = resolve_default_user(None, security_enabled=False)
    assert off.user is not None and off.user.uid == os.geteuid()
    assert [p.message for p in off.problems] == ["Script user 'keepalived_script' does not exist"]
    on = resolve_default_user(None, security_enabled=True)
    assert on.user is None
    assert on.problems[-1].message == "Unable to set default user keepalived_script for script"
    assert on.problems[-1].severity is Severity.ERROR


def test_keepalived_script_user_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    real = users.resolve_user

    def fake(name: str, group: str | None = None, *, supplementary: bool = False):
        return real("nobody" if name == "keepalived_script" else name, group)

    monkeypatch.setattr(users, "resolve_user", fake)
    result = resolve_default_user(None, security_enabled=True)
    assert result.user is not None and result.user.uid == 65534 and result.problems == ()


def test_bad_per_script_user() -> None:
    default = resolve_default_user(UserSpec("root"), security_enabled=True)
    bad = resolve_script_user(
        UserSpec("root", "nogroup_x"),
        default,
        kind="notify_backup",
        argv0="/b.sh",
        where=Location("f", 9),
    )
    assert bad.user is None
    assert [p.message for p in bad.problems] == [
        "Script group 'nogroup_x' does not exist",
        "Invalid user/group for notify_backup script /b.sh - ignoring",
    ]
    assert all(p.where == Location("f", 9) for p in bad.problems)
