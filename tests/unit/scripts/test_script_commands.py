"""Commands, FIFO lines, the -t problems derived from verdicts, and the DELETED notify run."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from astlinux_ha.problems import Location, Severity
from astlinux_ha.scripts.notify import Notifier, NotifyFifo, NotifyScripts, fifo_line
from astlinux_ha.scripts.runner import RunnableScript, script_env
from astlinux_ha.scripts.security import CheckedScript, RefusalReason, Verdict, script_problems
from astlinux_ha.scripts.users import ScriptUser

ROOT = ScriptUser(0, 0, (0,), "root")


def verdict(reason: RefusalReason | None, runnable: bool, insecure: bool = False) -> Verdict:
    return Verdict(
        configured="/x.sh",
        exec_path="/real/x.sh" if runnable else None,
        runnable=runnable,
        reason=reason,
        messages=(f"msg {reason}",) if reason else (),
        is_script=True,
        insecure=insecure,
    )


def test_fifo_line() -> None:
    assert fifo_line("INSTANCE", "VI_1", "MASTER", 100) == 'INSTANCE "VI_1" MASTER 100\n'


def test_from_verdict_uses_the_checked_path_and_drops_refused() -> None:
    ok = RunnableScript.from_verdict(["/x.sh", "a"], verdict(None, True), ROOT)
    assert ok is not None and ok.argv == ("/real/x.sh", "a")
    refused = verdict(RefusalReason.NOT_FOUND, False)
    assert RunnableScript.from_verdict(["/x.sh"], refused, ROOT) is None
    assert ok.with_args("INSTANCE", "VI_1").argv[-2:] == ("INSTANCE", "VI_1")


def test_shell_fallback_quotes_every_word() -> None:
    command = RunnableScript(("/x.sh", "a b", "it's", "$HOME"), ROOT, shell=True)
    argv = command.exec_argv()
    assert argv[:2] == ["/bin/sh", "-c"]
    echoed = RunnableScript(("echo", "a b", "it's", "$HOME"), ROOT, shell=True).exec_argv()
    out = subprocess.run(echoed, capture_output=True, text=True, check=True).stdout
    assert out == "a b it's $HOME\n"
    assert RunnableScript(("</etc/passwd",), ROOT, shell=True).exec_argv()[2] == "</etc/passwd"


def test_script_env_strips_loader_and_ifs() -> None:
    env = script_env({"PATH": "/bin", "IFS": ":", "LD_PRELOAD": "x", "LD_LIBRARY_PATH": "y"})
    assert env == {"PATH": "/bin"}


def test_problems_with_security_on() -> None:
    problems = script_problems(
        [
            CheckedScript("notify_master", verdict(None, True), Location("k.conf", 5)),
            CheckedScript(
                "vrrp_script",
                verdict(RefusalReason.UNSAFE_PERMISSIONS, False),
                Location("k.conf", 9),
                "chk",
            ),
            CheckedScript("notify_backup", verdict(RefusalReason.NOT_FOUND, False),
                          Location("k.conf", 6)),
        ],
        security_enabled=True,
    )
    assert [(p.severity, p.where) for p in problems] == [
        (Severity.SECURITY, Location("k.conf", 9)),
        (Severity.SECURITY, Location("k.conf", 6)),
    ]
    assert problems[0].message.startswith("Disabling track script chk due to insecure")
    assert problems[0].render().startswith("k.conf:9: Disabling track script chk")


def test_problems_with_security_off() -> None:
    problems = script_problems(
        [
            CheckedScript(
                "notify", verdict(RefusalReason.UNSAFE_PERMISSIONS, True, insecure=True),
                Location("a", 1),
            ),
            CheckedScript("notify_fault", verdict(RefusalReason.NOT_EXECUTABLE, False),
                          Location("a", 2)),
        ],
        security_enabled=False,
    )
    assert [p.severity for p in problems] == [Severity.WARNING, Severity.ERROR, Severity.SECURITY]
    assert problems[-1].message == (
        "SECURITY VIOLATION - scripts are being executed but script_security not enabled."
        " There are insecure scripts."
    )
    clean = script_problems([CheckedScript("notify", verdict(None, True))], security_enabled=False)
    assert [p.message for p in clean] == [
        "SECURITY VIOLATION - scripts are being executed but script_security not enabled."
    ]
    assert script_problems([], security_enabled=False) == []


# Records which script ran and with what arguments, one line per run.
RECORDER = '#!/bin/sh\necho "$(basename "$0")" "$@" >> {out}\n'


def _recorder(tmp_path: Path, name: str) -> RunnableScript:
    path = tmp_path / f"{name}.sh"
    path.write_text(RECORDER.format(out=tmp_path / "runs.log"))
    path.chmod(0o755)
    me = ScriptUser(os.geteuid(), os.getegid(), (os.getegid(),), "me")
    return RunnableScript((str(path),), me)


@pytest.mark.parametrize(("notify_deleted", "runs", "line"), [
    # keepalived without notify_deleted: a removed instance is a FAULT, scripts and FIFO alike
    (False, ["fault.sh", "notify.sh INSTANCE VI_1 FAULT 100"], 'INSTANCE "VI_1" FAULT 100\n'),
    (True, ["deleted.sh", "notify.sh INSTANCE VI_1 DELETED 100"],
     'INSTANCE "VI_1" DELETED 100\n'),
])
def test_a_removed_instance_is_notified_as_fault_unless_notify_deleted(
    tmp_path: Path, notify_deleted: bool, runs: list[str], line: str
) -> None:
    scripts = NotifyScripts(
        fault=_recorder(tmp_path, "fault"),
        # The config gives a deleted script only with notify_deleted (its keyword).
        deleted=_recorder(tmp_path, "deleted") if notify_deleted else None,
        generic=_recorder(tmp_path, "notify"),
        notify_deleted=notify_deleted,
    )

    async def scenario() -> bytes:
        fifo = NotifyFifo(str(tmp_path / "notify.fifo"))
        assert await fifo.open()
        notifier = Notifier("INSTANCE", "VI_1", scripts, fifos=[fifo])
        notifier.notify("DELETED", 100)
        await notifier.close()  # every queued notify has run
        reader = os.open(fifo.path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            return os.read(reader, 4096)
        finally:
            os.close(reader)
            await fifo.close()

    assert asyncio.run(scenario()).decode() == line
    assert (tmp_path / "runs.log").read_text().splitlines() == runs
