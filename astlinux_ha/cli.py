"""keepalived-compatible command line: ``astlinux-ha [-f FILE] [-n] [-l] [-D] ... [-t]``.

``-t`` reads and checks the config, prints each problem as ``FILE:LINE: message`` on stderr
and exits with keepalived's codes (0 runs as written, 4 cannot run, 5 errors but would run,
6 script security). Without ``-t`` the config is validated first, so the SysV script sees a
non-zero exit before anything daemonizes, and then :func:`astlinux_ha.daemon.run` takes over.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Sequence
from typing import TextIO

from astlinux_ha import __version__, preflight
from astlinux_ha.config import EXIT_FATAL, CheckResult
from astlinux_ha.options import (
    DEFAULT_CONFIG,
    DEFAULT_PIDFILE,
    DEFAULT_STATE_DIR,
    DEFAULT_VRRP_PIDFILE,
    Options,
    load_for_run,
)


def _facility(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 7:
        raise argparse.ArgumentTypeError(f"facility must be 0-7 (LOG_LOCAL0-7), not {text}")
    return value


def _umask(text: str) -> int:
    try:
        value = int(text, 0) if not text.startswith("0") else int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid umask '{text}'") from None
    if not 0 <= value <= 0o777:
        raise argparse.ArgumentTypeError(f"invalid umask '{text}'")
    return value


def daemon_module() -> types.ModuleType:
    """:mod:`astlinux_ha.daemon`, imported as the daemon process needs it: late (``-t`` must
    work without the I/O stack) and with OpenSSL kept out of asyncio (:mod:`no_tls`)."""
    from astlinux_ha import no_tls

    no_tls.keep_openssl_out()
    from astlinux_ha import daemon

    return daemon


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser with keepalived's flags (and our ``--state-dir``)."""
    p = argparse.ArgumentParser(
        prog="astlinux-ha",
        description="VRRP high availability for AstLinux, reading keepalived.conf.",
    )
    p.add_argument(
        "-f",
        "--use-file",
        dest="config_file",
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help=f"config file (default {DEFAULT_CONFIG})",
    )
    p.add_argument("-n", "--dont-fork", action="store_true", help="stay in the foreground")
    p.add_argument("-l", "--log-console", action="store_true", help="log to stderr too")
    p.add_argument("-D", "--log-detail", action="store_true", help="detailed log messages")
    p.add_argument(
        "-S",
        "--log-facility",
        type=_facility,
        default=None,
        metavar="0-7",
        help="syslog facility LOG_LOCAL0-7",
    )
    p.add_argument(
        "-p",
        "--pid",
        dest="pid_file",
        default=DEFAULT_PIDFILE,
        metavar="FILE",
        help=f"pid file (default {DEFAULT_PIDFILE})",
    )
    p.add_argument(
        "-r",
        "--vrrp_pid",
        dest="vrrp_pid_file",
        default=DEFAULT_VRRP_PIDFILE,
        metavar="FILE",
        help="VRRP child pid file (accepted for compatibility)",
    )
    p.add_argument("-P", "--vrrp", action="store_true", help="VRRP only (always the case)")
    p.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        metavar="DIR",
        help=f"runtime state directory (default {DEFAULT_STATE_DIR})",
    )
    p.add_argument(
        "-t",
        "--config-test",
        nargs="?",
        const=True,
        default=False,
        metavar="FILE",
        help="check the config (FILE if given, as keepalived's --config-test=FILE) and exit:"
        " 0 ok, 4 cannot run, 5 errors, 6 security",
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="print the running daemon's instances from the state dir and exit",
    )
    p.add_argument("-v", "--version", action="version", version=f"astlinux-ha {__version__}")
    p.add_argument(
        "-V",
        "--dont-release-vrrp",
        action="store_true",
        help="leave VIPs and routes in place on stop",
    )
    p.add_argument(
        "-X",
        "--release-vips",
        action="store_true",
        help="remove VIPs and routes on stop (the default)",
    )
    p.add_argument("-R", "--dont-respawn", action="store_true", help="accepted for compatibility")
    p.add_argument(
        "-u",
        "--umask",
        type=_umask,
        default=None,
        metavar="MASK",
        help="umask for files and scripts (default 0177)",
    )
    p.add_argument(
        "-i",
        "--config-id",
        default=None,
        metavar="ID",
        help="config id selecting @ID lines (default: the short host name)",
    )
    return p


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Parse ``argv`` (default: sys.argv[1:]) into :class:`Options`; exits 2 on bad usage."""
    ns = build_parser().parse_args(argv)
    return Options(
        config_file=ns.config_test if isinstance(ns.config_test, str) else ns.config_file,
        dont_fork=ns.dont_fork,
        log_console=ns.log_console,
        log_detail=ns.log_detail,
        log_facility=ns.log_facility,
        pid_file=ns.pid_file,
        vrrp_pid_file=ns.vrrp_pid_file,
        state_dir=ns.state_dir,
        config_test=ns.config_test is not False,
        status=ns.status,
        release_vips=not ns.dont_release_vrrp or ns.release_vips,
        no_respawn=ns.dont_respawn,
        umask=ns.umask,
        config_id=ns.config_id,
    )


def report(result: CheckResult, stream: TextIO | None = None) -> None:
    """Print every problem as one ``FILE:LINE: message`` line (stderr by default)."""
    out = sys.stderr if stream is None else stream
    for problem in result.problems:
        print(problem.render(), file=out)


def _rehearse(argv: list[str]) -> int:
    """``rehearse``: handed over to the lab, which lives beside the package only in a source
    checkout (it is never installed: a router does not need it)."""
    from pathlib import Path

    checkout = Path(__file__).resolve().parents[1]
    if not (checkout / "lab" / "rehearse.py").is_file():
        print("astlinux-ha rehearse: the lab is not installed here: it ships only in the "
              "source checkout (lab/). From a checkout, as root: astlinux-ha rehearse "
              "MASTER.conf BACKUP.conf (or python -m lab rehearse ...)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(checkout))
    from lab.__main__ import main as lab_main

    return lab_main(["rehearse", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``astlinux-ha`` and ``python -m astlinux_ha``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["pair-check"]:
        from astlinux_ha import paircheck

        return paircheck.main(args[1:])
    if args[:1] == ["rehearse"]:
        return _rehearse(args[1:])
    options = parse_options(args)
    if options.status:
        from astlinux_ha.status_table import print_status

        # sys.stdout passed explicitly: print_status's default was bound when it was imported.
        return print_status(options.state_dir, sys.stdout)
    if options.config_test:
        # -t also checks every script as start-up would (exit 6 for a refused one).
        result = preflight.check(options.config_file, config_id=options.config_id)
        report(result)
        return result.exit_code
    result = load_for_run(options)
    if not result.runnable or result.config is None:
        report(result)
        print(f"astlinux-ha: {options.config_file}: configuration cannot run", file=sys.stderr)
        return EXIT_FATAL
    # Logged by the daemon once syslog is up (and on the console with -l), as keepalived
    # does; `service keepalived` prints them from its own -t check, so they are shown once.
    problems = tuple(p.render() for p in result.problems)
    return int(daemon_module().run(options, result.config, problems) or 0)
