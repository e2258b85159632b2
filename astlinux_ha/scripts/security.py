"""enable_script_security: decide, as keepalived 2.2.7 does, whether a script may run.

The check runs at start-up, on reload and for ``-t``, never per run. In order (keepalived's
``check_script_secure``):

1. ``</path`` is a file-open test run through the shell: no further checks.
2. A bare name is searched in PATH as the script's user; keepalived warns that it did so.
3. The path is resolved with realpath() *as the script's user*; if the file name differs from
   the configured one and the configured name also exists in the resolved directory as the
   same file, that name is kept so programs that look at argv[0] still see it.
4. The file must be executable for the script's uid:gid.
5. Only if the script runs with uid 0 or gid 0 (or the file is setuid/setgid root) is every
   component of the exec path, and of the real file when that differs, checked with lstat():
   owned by root; a file, or a directory without the sticky bit, must be neither world-writable
   nor group-writable unless its group is root; intermediate components must be directories and
   the last a file or symlink.

Finding (verified against Debian's keepalived 2.2.7 by tests/service/test_scripts_oracle.py):
a symlinked *intermediate* directory in the configured path (``/etc/keepalived/x.sh`` with
``/etc/keepalived -> /mnt/kd/keepalived``) is fine, because 2.2.7 replaces the configured path
by the resolved one before the walk, and execs the resolved path. keepalived 2.3.0 and later
walk the configured path too, where such a symlink gives ``Wrong file type found in script
path``; the guide this project follows tells users to write ``/etc/keepalived/...``, so the
2.2.7 behaviour is the one kept. Since the resolved path is what gets exec'd, nothing that is
not walked is ever executed.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import json
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from astlinux_ha.problems import Location, Problem, Severity


class RefusalReason(StrEnum):
    """Why keepalived would refuse (or, with security off, warn about) a script."""

    UNSAFE_PERMISSIONS = "unsafe permissions"
    NOT_EXECUTABLE = "not executable"
    NOT_FOUND = "not found"
    WRONG_FILE_TYPE = "wrong file type"
    USER_SWITCH = "cannot switch user"


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one script's argv[0] for one uid:gid.

    ``runnable`` is what matters to the daemon; ``exec_path`` replaces argv[0] when running.
    ``messages`` are keepalived's log lines, in the order keepalived logs them.
    """

    configured: str
    exec_path: str | None
    runnable: bool
    reason: RefusalReason | None
    messages: tuple[str, ...]
    is_script: bool = False
    insecure: bool = False
    shell: bool = False
    path_searched: bool = False
    walked: bool = False

    @property
    def secure(self) -> bool:
        """Nothing wrong at all."""
        return self.runnable and self.reason is None

    def argv(self, configured_argv: Iterable[str]) -> tuple[str, ...]:
        """The argv to run: the configured one with argv[0] replaced by the checked path."""
        args = list(configured_argv)
        if self.exec_path is not None and args:
            args[0] = self.exec_path
        return tuple(args)


@dataclass(frozen=True)
class CheckedScript:
    """A script's verdict plus what the checker needs to report it."""

    kind: str
    verdict: Verdict
    where: Location | None = None
    track_name: str | None = None


def is_executable(st: os.stat_result, uid: int, gid: int) -> bool:
    """keepalived's own test: mode bits only, the primary gid only; root needs any x bit."""
    mode = st.st_mode
    if uid == 0:
        return bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if uid == st.st_uid:
        return bool(mode & stat.S_IXUSR)
    if gid == st.st_gid:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)


def _as_user(uid: int, gid: int, groups: list[int] | None, job: Callable[[], dict]) -> dict:
    """Run ``job`` with euid/egid switched, in a forked child, so no thread ever sees it.

    keepalived switches its own euid for a moment; a forked child keeps the daemon's
    credentials untouched even if other threads (asyncio's child watcher) are running.
    """
    if uid == os.geteuid() and gid == os.getegid() and groups is None:
        return job()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child; its result is what the tests see
        try:
            os.close(rfd)
            try:
                if gid != os.getegid():
                    os.setegid(gid)
                if groups is not None:
                    os.setgroups(groups)
                if uid != os.geteuid():
                    os.seteuid(uid)
            except OSError as exc:
                result = {"setid_errno": exc.errno}
            else:
                result = job()
            os.write(wfd, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    chunks = []
    while chunk := os.read(rfd, 65536):
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    if not chunks:
        return {"setid_errno": errno_mod.EIO}
    return json.loads(b"".join(chunks))


# The process's own symbols, libc's among them: find_library("c") would run ldconfig (or a
# compiler) at every start to find the same library.
_libc = ctypes.CDLL(None, use_errno=True)
_libc.realpath.restype = ctypes.c_void_p
_libc.realpath.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def _c_realpath(path: str) -> dict:
    """libc realpath(), so error numbers match keepalived's exactly."""
    ptr = _libc.realpath(os.fsencode(path), None)
    if not ptr:
        return {"errno": ctypes.get_errno()}
    resolved = os.fsdecode(ctypes.string_at(ptr))
    _libc.free(ctypes.c_void_p(ptr))
    return {"path": resolved}


def _search_path(name: str, uid: int, gid: int, search: str) -> dict:
    """glibc execvpe's walk of PATH, accepting only regular files executable for uid:gid."""
    got_eacces = False
    for entry in search.split(":"):
        candidate = f"{entry}/{name}" if entry else name
        try:
            st = os.stat(candidate)
        except OSError as exc:
            if exc.errno not in (
                errno_mod.EACCES,
                errno_mod.ENOENT,
                errno_mod.ESTALE,
                errno_mod.ENOTDIR,
                errno_mod.ENODEV,
                errno_mod.ETIMEDOUT,
                errno_mod.ENOEXEC,
            ):
                return {"errno": exc.errno}
            continue
        if stat.S_ISREG(st.st_mode) and is_executable(st, uid, gid):
            return {"path": candidate}
        got_eacces = True
    return {"errno": errno_mod.EACCES if got_eacces else errno_mod.ENOENT}


def _default_search_path() -> str:
    return os.environ.get("PATH") or os.confstr("CS_PATH") or "/bin:/usr/bin"


@dataclass(frozen=True)
class _WalkResult:
    message: str | None = None
    reason: RefusalReason | None = None
    insecure: bool = False
    inhibit: bool = False
    not_found: bool = False


def _walk(filename: str, security_enabled: bool) -> _WalkResult:
    """lstat() every prefix of ``filename`` from ``/`` down, stopping at the first fault."""
    prefixes: list[str] = []
    start = 0
    while (slash := filename.find("/", start)) != -1:
        prefixes.append(filename[: slash + 1] if slash == 0 else filename[:slash])
        start = slash + 1
    for index, part in enumerate([*prefixes, filename]):
        last = index == len(prefixes)
        try:
            st = os.lstat(part)
        except OSError as exc:
            if exc.errno in (
                errno_mod.EACCES,
                errno_mod.ELOOP,
                errno_mod.ENOENT,
                errno_mod.ENOTDIR,
            ):
                msg = f"check_script_secure could not find script '{filename}' - disabling"
            else:
                msg = (
                    f"check_script_secure('{filename}') returned errno {exc.errno}"
                    f" - {os.strerror(exc.errno or 0)} - disabling"
                )
            return _WalkResult(msg, RefusalReason.NOT_FOUND, not_found=True)
        mode = st.st_mode
        if (not last and not stat.S_ISDIR(mode)) or (
            last and not stat.S_ISREG(mode) and not stat.S_ISLNK(mode)
        ):
            # Inhibits even with security off: keepalived cannot tell what would run.
            return _WalkResult(
                f"Wrong file type found in script path '{filename}'.",
                RefusalReason.WRONG_FILE_TYPE,
                inhibit=True,
            )
        # Symlinks' own mode bits mean nothing; sticky directories (like /tmp) are fine.
        mode_matters = (stat.S_ISDIR(mode) and not mode & stat.S_ISVTX) or stat.S_ISREG(mode)
        writable = (st.st_gid != 0 and mode & stat.S_IWGRP) or mode & stat.S_IWOTH
        if st.st_uid != 0 or (mode_matters and writable):
            suffix = " - disabling" if security_enabled else ""
            return _WalkResult(
                f"Unsafe permissions found for script '{filename}'{suffix}.",
                RefusalReason.UNSAFE_PERMISSIONS,
                insecure=True,
                inhibit=security_enabled,
            )
    return _WalkResult()


def _starts_like_executable(path: str) -> bool:
    """Stand-in for keepalived's libmagic test: ELF or a ``#!`` line execs directly.

    libmagic describes anything but a regular file (directory, FIFO...) without the word
    "executable", so keepalived would hand those to the shell; never open them (a FIFO blocks).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return True  # keepalived without a magic answer execs directly
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, 4)
    finally:
        os.close(fd)
    return head.startswith(b"#!") or head == b"\x7fELF"


def check_script(
    argv0: str,
    uid: int,
    gid: int,
    *,
    security_enabled: bool,
    search_path: str | None = None,
    magic: bool = False,
) -> Verdict:
    """Check one script's argv[0] for the uid:gid it will run as; see the module docstring.

    ``search_path`` overrides $PATH for bare names. ``magic`` enables keepalived's libmagic
    test (files without ``#!`` go through the shell); Debian's 2.2.7 is built without
    libmagic and execs every script directly, so that is the default.
    """
    messages: list[str] = []

    def verdict(**fields) -> Verdict:
        return Verdict(configured=argv0, messages=tuple(messages), **fields)

    stripped = argv0[1:].lstrip(" \t")
    if argv0.startswith("<") and stripped.startswith("/"):
        return verdict(exec_path=argv0, runnable=True, reason=None, shell=True)

    path = argv0
    searched = False
    if "/" not in argv0:
        search = search_path if search_path is not None else _default_search_path()
        found = _as_user(uid, gid, [gid], lambda: _search_path(argv0, uid, gid, search))
        if "path" not in found:
            if found.get("setid_errno") or found.get("errno") == errno_mod.EACCES:
                messages.append(f"Permissions failure for script {argv0} in path - disabling")
            else:
                messages.append(f"Cannot find script {argv0} in path - disabling")
            return verdict(exec_path=None, runnable=False, reason=RefusalReason.NOT_FOUND)
        path = found["path"]
        searched = True
        messages.append(
            f"WARNING - script `{argv0}` resolved by path search to `{path}`."
            " Please specify full path."
        )

    resolved = _as_user(uid, gid, None, lambda: _c_realpath(path))
    if "setid_errno" in resolved:
        messages.append(f"Unable to set uid:gid {uid}:{gid} for script {path} - disabling")
        return verdict(
            exec_path=None, runnable=False, reason=RefusalReason.USER_SWITCH, path_searched=searched
        )
    if "path" not in resolved:
        messages.append(f"Script {path} cannot be accessed - {os.strerror(resolved['errno'])}")
        return verdict(
            exec_path=None, runnable=False, reason=RefusalReason.NOT_FOUND, path_searched=searched
        )

    real: str = resolved["path"]
    exec_path = path
    real_file: str | None = None
    if path != real:
        exec_path = real
        orig_name = path.rsplit("/", 1)[1]
        real_dir, real_name = real.rsplit("/", 1)
        if orig_name != real_name:
            # Keep the configured file name when it names the same file in the real directory.
            candidate = f"{real_dir}/{orig_name}"
            try:
                real_st = os.stat(real)
            except OSError:
                real_st = None
            try:
                cand_st = os.stat(candidate)
            except OSError:
                cand_st = None
            same = real_st is None or (
                cand_st is not None
                and (real_st.st_dev, real_st.st_ino) == (cand_st.st_dev, cand_st.st_ino)
            )
            if same:
                exec_path, real_file = candidate, real

    try:
        file_st = os.stat(real_file or exec_path)
    except OSError:
        messages.append(f"Unable to access script `{exec_path}` - disabling")
        return verdict(
            exec_path=None, runnable=False, reason=RefusalReason.NOT_FOUND, path_searched=searched
        )

    executable = is_executable(file_st, uid, gid)
    protect = False
    shell = False
    if executable:
        mode = file_st.st_mode
        protect = bool(
            uid == 0
            or gid == 0
            or (file_st.st_uid == 0 and mode & stat.S_IXUSR and mode & stat.S_ISUID)
            or (file_st.st_gid == 0 and mode & stat.S_IXGRP and mode & stat.S_ISGID)
        )
        if magic and not _starts_like_executable(real_file or exec_path):
            messages.append(f"Please add a #! shebang to script {exec_path}")
            shell = True
    else:
        messages.append(
            f"WARNING - script '{exec_path}' is not executable for uid:gid {uid}:{gid} - disabling."
        )

    walks: list[_WalkResult] = []
    if protect:
        walks.append(_walk(exec_path, security_enabled))
        if real_file:
            walks.append(_walk(real_file, security_enabled))
    messages.extend(w.message for w in walks if w.message)
    failed = [w for w in walks if w.reason is not None]
    inhibit = any(w.inhibit or w.not_found for w in walks)
    reason = failed[0].reason if failed else (None if executable else RefusalReason.NOT_EXECUTABLE)
    if not executable and failed:
        reason = RefusalReason.NOT_EXECUTABLE
    runnable = executable and not inhibit
    return verdict(
        exec_path=exec_path if runnable else None,
        runnable=runnable,
        reason=reason,
        is_script=True,
        insecure=any(w.insecure for w in walks),
        shell=shell,
        path_searched=searched,
        walked=protect,
    )


def script_problems(scripts: Iterable[CheckedScript], *, security_enabled: bool) -> list[Problem]:
    """What ``-t`` reports about checked scripts.

    With security on, every script that would be refused is a 'security' problem. With it off,
    a refused script is an 'error', an insecure one that still runs a 'warning', and if any
    script is configured at all keepalived's ``SECURITY VIOLATION`` line is a 'security' problem.
    """
    problems: list[Problem] = []
    any_script = False
    any_insecure = False
    for item in scripts:
        v = item.verdict
        any_script = any_script or v.is_script
        any_insecure = any_insecure or v.insecure
        if v.runnable and v.reason is None:
            continue
        detail = "; ".join(v.messages) or f"{item.kind} script {v.configured}: {v.reason}"
        if not v.runnable:
            severity = Severity.SECURITY if security_enabled else Severity.ERROR
            if item.track_name is not None:
                what = (
                    "due to insecure"
                    if v.reason
                    in (
                        RefusalReason.UNSAFE_PERMISSIONS,
                        RefusalReason.WRONG_FILE_TYPE,
                        RefusalReason.USER_SWITCH,
                    )
                    else "since not found/accessible"
                )
                if v.reason is RefusalReason.NOT_EXECUTABLE:
                    what = "since not executable"
                detail = f"Disabling track script {item.track_name} {what}: {detail}"
            else:
                detail = f"Disabling {item.kind} script: {detail}"
            problems.append(Problem(item.where, severity, detail))
        else:
            problems.append(Problem(item.where, Severity.WARNING, detail))
    if not security_enabled and any_script:
        tail = " There are insecure scripts." if any_insecure else ""
        problems.append(
            Problem(
                None,
                Severity.SECURITY,
                "SECURITY VIOLATION - scripts are being executed but script_security not"
                f" enabled.{tail}",
            )
        )
    return problems
