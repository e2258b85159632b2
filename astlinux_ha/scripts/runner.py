"""Start scripts the way keepalived's child does, without ever blocking the event loop.

Child set-up (keepalived's ``set_script_env`` and ``system_call_script``): setgid, setgroups,
setuid; signals back to default; its own process group; IFS, LD_PRELOAD and LD_LIBRARY_PATH
removed; stdio on /dev/null; cwd ``/``; keepalived's umask (0177 unless configured);
PR_SET_PDEATHSIG SIGTERM so a script dies with the daemon. Python's subprocess does the id
changes (setgroups, setregid, setreuid), process group, umask and cwd in the child; the small
preexec hook only does what it cannot: signal dispositions, the signal mask, and pdeathsig,
which must come after the uid change because changing credentials clears it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from .security import Verdict
from .users import ScriptUser

log = logging.getLogger("astlinux_ha.scripts")

DEFAULT_UMASK = 0o177
KILL_GRACE = 2.0
UNSAFE_ENV = ("IFS", "LD_PRELOAD", "LD_LIBRARY_PATH")

_PR_SET_PDEATHSIG = 1
# The process's own symbols, libc's among them (find_library would run ldconfig at start).
_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl
_signal = _libc.signal
_signal.restype = ctypes.c_void_p
_signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
# SIGKILL and SIGSTOP cannot be changed; everything else goes back to SIG_DFL (0).
_RESETTABLE = tuple(
    int(s) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)
)


@dataclass(frozen=True)
class RunnableScript:
    """A checked script ready to run: argv (argv[0] already resolved), user, shell fallback."""

    argv: tuple[str, ...]
    user: ScriptUser
    shell: bool = False

    @classmethod
    def from_verdict(
        cls, argv: tuple[str, ...] | list[str], verdict: Verdict, user: ScriptUser
    ) -> RunnableScript | None:
        """The command to run for a checked script, or None if keepalived would not run it."""
        if not verdict.runnable:
            return None
        return cls(argv=verdict.argv(argv), user=user, shell=verdict.shell)

    def with_args(self, *extra: str) -> RunnableScript:
        """The same command with arguments appended (generic notify, fifo scripts)."""
        return RunnableScript(argv=self.argv + tuple(extra), user=self.user, shell=self.shell)

    def exec_argv(self) -> list[str]:
        """What is passed to exec: the argv itself, or ``sh -c`` with each word single-quoted.

        keepalived falls back to system() for files without a ``#!`` line and for ``</file``
        tests; the first word of a ``<``/``>`` redirection is left unquoted, as keepalived does.
        """
        if not self.shell:
            return list(self.argv)
        words = [
            a if i == 0 and a[:1] in ("<", ">") else shlex.quote(a) for i, a in enumerate(self.argv)
        ]
        return ["/bin/sh", "-c", " ".join(words)]


def script_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The daemon's environment minus the variables keepalived strips."""
    env = dict(os.environ if base is None else base)
    for name in UNSAFE_ENV:
        env.pop(name, None)
    return env


def _child_setup() -> None:  # pragma: no cover - runs in the forked child
    for signum in _RESETTABLE:
        _signal(signum, None)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def _credentials(user: ScriptUser) -> dict:
    """subprocess arguments for the id changes; only ask for what differs, like keepalived."""
    kwargs: dict = {}
    if user.gid != os.getegid():
        kwargs["group"] = user.gid
    if os.geteuid() == 0:
        kwargs["extra_groups"] = list(user.groups)
    if user.uid != os.geteuid():
        kwargs["user"] = user.uid
    return kwargs


async def spawn(
    command: RunnableScript,
    *,
    umask: int = DEFAULT_UMASK,
    env: Mapping[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """Start ``command`` as its user in a new process group; returns at once.

    The child's pid is its process group id, which kill_group() relies on.
    """
    return await asyncio.create_subprocess_exec(
        *command.exec_argv(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
        env=script_env(env),
        umask=umask,
        process_group=0,
        restore_signals=True,
        preexec_fn=_child_setup,
        **_credentials(command.user),
    )


def signal_group(pgid: int, signum: int) -> bool:
    """Signal a whole process group; False if it is already gone."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


async def kill_group(proc: asyncio.subprocess.Process, *, grace: float = KILL_GRACE) -> int:
    """SIGTERM the script's process group, SIGKILL it ``grace`` seconds later if still alive.

    Returns the leader's wait status as asyncio reports it (negative: killed by a signal).
    When the leader dies of our SIGTERM its children get SIGKILL at once, as keepalived does,
    so nothing it forked outlives it.
    """
    if proc.returncode is not None:
        return proc.returncode
    signal_group(proc.pid, signal.SIGTERM)
    try:
        code = await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        signal_group(proc.pid, signal.SIGKILL)
        return await proc.wait()
    if code == -signal.SIGTERM:
        signal_group(proc.pid, signal.SIGKILL)
    return code


@dataclass(frozen=True)
class RunResult:
    """How a script run ended; ``timed_out`` runs were killed by us and count as failures."""

    returncode: int | None
    timed_out: bool

    @property
    def success(self) -> bool:
        """keepalived: exit status 0 is success, anything else (or a timeout) failure."""
        return not self.timed_out and self.returncode == 0


async def run_with_timeout(
    command: RunnableScript,
    timeout: float | None,
    *,
    umask: int = DEFAULT_UMASK,
    env: Mapping[str, str] | None = None,
    grace: float = KILL_GRACE,
) -> RunResult:
    """Run ``command`` to completion, killing its group at ``timeout`` (None: wait forever).

    A spawn failure (fork or exec error) is reported as exit status 127, as a shell would.
    Cancelling the awaiting task kills the group before the cancellation propagates.
    """
    try:
        proc = await spawn(command, umask=umask, env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("Error exec-ing command '%s': %s", command.argv[0], exc)
        return RunResult(127, False)
    try:
        return RunResult(await asyncio.wait_for(proc.wait(), timeout), False)
    except TimeoutError:
        return RunResult(await kill_group(proc, grace=grace), True)
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise
