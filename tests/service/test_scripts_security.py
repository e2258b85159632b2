"""enable_script_security verdicts on real files, users and modes, checked against keepalived.

Every case builds its files under a fresh root-owned 0755 directory in /srv (not /tmp, whose
sticky world-writable bit would itself be part of the walk). The expected reason is written
by hand; the ``keepalived`` test then runs Debian's keepalived 2.2.7 on the same files and
compares its log lines with ours, so the hand-written table is checked against the real thing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from astlinux_ha.config.argv import split_command
from astlinux_ha.scripts.security import CheckedScript, RefusalReason, check_script, script_problems
from astlinux_ha.scripts.users import resolve_user

pytestmark = [pytest.mark.root]

NOBODY = 65534
NOGROUP = 65534
SCRIPT = "#!/bin/sh\nexit 0\n"


def _file(path: Path, mode: int = 0o755, uid: int = 0, gid: int = 0, text: str = SCRIPT) -> None:
    path.write_text(text)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _dir(path: Path, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Path:
    path.mkdir()
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return path


@dataclass(frozen=True)
class Case:
    """One path case: builds files under ``base`` and returns the configured command."""

    name: str
    build: Callable[[Path], str]
    expect: RefusalReason | None
    runnable: bool
    user: tuple[str, str] = ("root", "root")
    security: bool = True
    bin_dir: bool = False  # put <base>/bin first in PATH (bare-name cases)


def _secure(b: Path) -> str:
    _file(b / "ok.sh")
    return f"{b}/ok.sh"


def _with_args(b: Path) -> str:
    _file(b / "ok.sh")
    return f"{b}/ok.sh arg1 'b c'"


def _world_writable(b: Path) -> str:
    _file(b / "ww.sh", 0o757)
    return f"{b}/ww.sh"


def _group_writable_nonroot(b: Path) -> str:
    _file(b / "gw.sh", 0o775, gid=NOGROUP)
    return f"{b}/gw.sh"


def _group_writable_root(b: Path) -> str:
    _file(b / "gw.sh", 0o775)
    return f"{b}/gw.sh"


def _owner_nobody(b: Path) -> str:
    _file(b / "nb.sh", uid=NOBODY)
    return f"{b}/nb.sh"


def _parent_world_writable(b: Path) -> str:
    _file(_dir(b / "d", 0o777) / "ok.sh")
    return f"{b}/d/ok.sh"


def _parent_sticky(b: Path) -> str:
    _file(_dir(b / "d", 0o1777) / "ok.sh")
    return f"{b}/d/ok.sh"


def _parent_owner_nobody(b: Path) -> str:
    _file(_dir(b / "d", uid=NOBODY) / "ok.sh")
    return f"{b}/d/ok.sh"


def _parent_group_writable(b: Path) -> str:
    _file(_dir(b / "d", 0o775, gid=NOGROUP) / "ok.sh")
    return f"{b}/d/ok.sh"


def _not_executable(b: Path) -> str:
    _file(b / "nx.sh", 0o644)
    return f"{b}/nx.sh"


def _missing(b: Path) -> str:
    return f"{b}/missing.sh"


def _missing_dir(b: Path) -> str:
    return f"{b}/nodir/x.sh"


def _directory(b: Path) -> str:
    _dir(b / "adir")
    return f"{b}/adir"


def _fifo(b: Path) -> str:
    os.mkfifo(b / "fifo", 0o755)
    os.chmod(b / "fifo", 0o755)
    return f"{b}/fifo"


def _symlink_secure(b: Path) -> str:
    _file(b / "real.sh")
    (b / "link.sh").symlink_to("real.sh")
    return f"{b}/link.sh"


def _symlink_insecure_target(b: Path) -> str:
    _file(b / "real.sh", 0o777)
    (b / "link.sh").symlink_to("real.sh")
    return f"{b}/link.sh"


def _symlink_owned_by_nobody(b: Path) -> str:
    _file(b / "real.sh")
    (b / "link.sh").symlink_to("real.sh")
    os.lchown(b / "link.sh", NOBODY, NOGROUP)
    return f"{b}/link.sh"


def _symlinked_dir(b: Path) -> str:
    _file(_dir(b / "real") / "ok.sh")
    (b / "etc").symlink_to("real")
    return f"{b}/etc/ok.sh"


def _bare_name(b: Path) -> str:
    _file(_dir(b / "bin") / "bare_ok.sh")
    return "bare_ok.sh"


def _bare_missing(b: Path) -> str:
    _dir(b / "bin")
    return "bare_missing_xyz.sh"


def _nobody_own_script(b: Path) -> str:
    _file(_dir(b / "d", 0o777, uid=NOBODY) / "nb.sh", 0o777, uid=NOBODY, gid=NOGROUP)
    return f"{b}/d/nb.sh"


def _nobody_root_private(b: Path) -> str:
    _file(b / "priv.sh", 0o700)
    return f"{b}/priv.sh"


def _nobody_unsearchable_dir(b: Path) -> str:
    _file(_dir(b / "d", 0o700) / "ok.sh")
    return f"{b}/d/ok.sh"


def _setuid_root_as_nobody(b: Path) -> str:
    _file(_dir(b / "d", 0o755, uid=NOBODY) / "su.sh", 0o4755)
    return f"{b}/d/su.sh"


def _no_shebang(b: Path) -> str:
    _file(b / "plain.sh", text="exit 0\n")
    return f"{b}/plain.sh"


CASES = [
    Case("secure", _secure, None, True),
    Case("secure with arguments", _with_args, None, True),
    Case("world-writable file", _world_writable, RefusalReason.UNSAFE_PERMISSIONS, False),
    Case(
        "group-writable, non-root group", _group_writable_nonroot,
        RefusalReason.UNSAFE_PERMISSIONS, False,
    ),
    Case("group-writable, root group", _group_writable_root, None, True),
    Case("file owned by nobody", _owner_nobody, RefusalReason.UNSAFE_PERMISSIONS, False),
    Case("world-writable parent", _parent_world_writable, RefusalReason.UNSAFE_PERMISSIONS, False),
    Case("sticky world-writable parent", _parent_sticky, None, True),
    Case("parent owned by nobody", _parent_owner_nobody, RefusalReason.UNSAFE_PERMISSIONS, False),
    Case("group-writable parent", _parent_group_writable, RefusalReason.UNSAFE_PERMISSIONS, False),
    Case("not executable", _not_executable, RefusalReason.NOT_EXECUTABLE, False),
    Case("missing file", _missing, RefusalReason.NOT_FOUND, False),
    Case("missing directory", _missing_dir, RefusalReason.NOT_FOUND, False),
    Case("a directory", _directory, RefusalReason.WRONG_FILE_TYPE, False),
    Case("a fifo", _fifo, RefusalReason.WRONG_FILE_TYPE, False),
    Case("symlink to a secure file", _symlink_secure, None, True),
    Case(
        "symlink to a world-writable file",
        _symlink_insecure_target,
        RefusalReason.UNSAFE_PERMISSIONS,
        False,
    ),
    Case("symlink owned by nobody", _symlink_owned_by_nobody, RefusalReason.UNSAFE_PERMISSIONS,
         False),
    Case("symlinked intermediate directory", _symlinked_dir, None, True),
    Case("bare name found in PATH", _bare_name, None, True, bin_dir=True),
    Case("bare name not in PATH", _bare_missing, RefusalReason.NOT_FOUND, False, bin_dir=True),
    Case("no #! line (no libmagic, as Debian builds it)", _no_shebang, None, True),
    Case("nobody runs its own script", _nobody_own_script, None, True, ("nobody", "nogroup")),
    Case(
        "nobody, root-only file",
        _nobody_root_private,
        RefusalReason.NOT_EXECUTABLE,
        False,
        ("nobody", "nogroup"),
    ),
    Case(
        "nobody, unsearchable dir",
        _nobody_unsearchable_dir,
        RefusalReason.NOT_FOUND,
        False,
        ("nobody", "nogroup"),
    ),
    Case(
        "setuid root, run as nobody",
        _setuid_root_as_nobody,
        RefusalReason.UNSAFE_PERMISSIONS,
        False,
        ("nobody", "nogroup"),
    ),
    Case(
        "world-writable, security off",
        _world_writable,
        RefusalReason.UNSAFE_PERMISSIONS,
        True,
        security=False,
    ),
    Case("a directory, security off", _directory, RefusalReason.WRONG_FILE_TYPE, False,
         security=False),
]


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ha-scripts-", dir="/srv"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _search_path(base: Path, case: Case) -> str:
    return f"{base}/bin:/usr/bin:/bin" if case.bin_dir else "/usr/bin:/bin"


def _ours(base: Path, case: Case) -> tuple[list[str], bool, RefusalReason | None]:
    command = case.build(base)
    user = resolve_user(*case.user)
    verdict = check_script(
        split_command(command)[0],
        user.uid,
        user.gid,
        security_enabled=case.security,
        search_path=_search_path(base, case),
    )
    lines = list(verdict.messages)
    lines += [
        p.message
        for p in script_problems(
            [CheckedScript("notify_master", verdict)], security_enabled=case.security
        )
        if p.message.startswith("SECURITY VIOLATION")
    ]
    return lines, verdict.runnable, verdict.reason


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verdict_table(base: Path, case: Case) -> None:
    _, runnable, reason = _ours(base, case)
    assert (reason, runnable) == (case.expect, case.runnable)


# --- the same table against Debian's keepalived ------------------------------------------

KEEPALIVED = shutil.which("keepalived")
_SCRIPT_LINE = re.compile(
    r"Unsafe permissions found|Wrong file type found|check_script_secure|is not executable for"
    r"|cannot be accessed|Unable to access script|resolved by path search|Cannot find script"
    r"|Permissions failure for script|Unable to set uid:gid|Please add a #! shebang"
    r"|SECURITY VIOLATION"
)
_REFUSED = re.compile(r"- disabling|Wrong file type found|cannot be accessed")


def _keepalived_lines(base: Path, case: Case, command: str) -> list[str]:
    security = "  enable_script_security\n" if case.security else ""
    conf = base / "keepalived.conf"
    escaped = command.replace('"', '\\"')
    conf.write_text(
        "global_defs {\n"
        f"{security}"
        f"  script_user {case.user[0]} {case.user[1]}\n"
        "}\n"
        "vrrp_instance VI_1 {\n"
        "  state BACKUP\n  interface v0\n  virtual_router_id 50\n  priority 100\n"
        "  virtual_ipaddress {\n    10.9.9.9\n  }\n"
        f'  notify_master "{escaped}"\n'
        "}\n"
    )
    inner = (
        "ip link add v0 type veth peer name v1 && ip link set v0 up && "
        f"exec {KEEPALIVED} -n -l -D -P -G -f {conf} -p {base}/k.pid -r {base}/v.pid"
    )
    env = dict(os.environ, PATH=_search_path(base, case))
    proc = subprocess.Popen(
        ["unshare", "-n", "sh", "-c", inner],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 15
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n").split(": ", 1)[-1]
            lines.append(line)
            if "Startup complete" in line or time.monotonic() > deadline:
                break
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert any("Startup complete" in line for line in lines), "\n".join(lines)
    return [line for line in lines if _SCRIPT_LINE.search(line)]


@pytest.mark.skipif(KEEPALIVED is None, reason="keepalived is not installed")
@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare is not installed")
def test_table_matches_keepalived() -> None:
    roots = [Path(tempfile.mkdtemp(prefix="ha-scripts-", dir="/srv")) for _ in CASES]
    try:
        commands = []
        for root, case in zip(roots, CASES, strict=True):
            os.chmod(root, 0o755)
            commands.append(case.build(root))
        with ThreadPoolExecutor(max_workers=4) as pool:
            theirs = list(pool.map(_keepalived_lines, roots, CASES, commands))
        mismatches = []
        for root, case, their_lines in zip(roots, CASES, theirs, strict=True):
            # Build a second copy for our check: keepalived and we must see identical trees.
            ours_root = Path(tempfile.mkdtemp(prefix="ha-scripts-", dir="/srv"))
            os.chmod(ours_root, 0o755)
            try:
                our_lines, runnable, _ = _ours(ours_root, case)
            finally:
                shutil.rmtree(ours_root, ignore_errors=True)
            our_lines = [line.replace(str(ours_root), str(root)) for line in our_lines]
            their_runnable = not any(_REFUSED.search(line) for line in their_lines)
            if our_lines != their_lines or runnable != their_runnable:
                mismatches.append(f"{case.name}:\n  ours:   {our_lines}\n  theirs: {their_lines}")
        assert not mismatches, "\n".join(mismatches)
    finally:
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
