"""Commands, FIFO lines and the -t problems derived from verdicts."""

from __future__ import annotations

import subprocess

from astlinux_ha.problems import Location, Severity
from astlinux_ha.scripts.notify import Notifier, NotifyScripts, fifo_line
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


class _Fifo:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)


def test_a_removed_instance_reports_deleted_only_with_notify_deleted() -> None:
    for flag, expected in ((False, "FAULT"), (True, "DELETED")):
        fifo = _Fifo()
        notifier = Notifier("INSTANCE", "VI_1", NotifyScripts(notify_deleted=flag),
                            fifos=[fifo])  # type: ignore[list-item]
        notifier.notify("DELETED", 100)
        assert fifo.lines == [f'INSTANCE "VI_1" {expected} 100\n']
