"""The process: pid file, detaching, logging, signals, and the one asyncio loop.

Order matters here. The config and the pid file are checked before detaching, so the init
script sees a non-zero exit; python-daemon then closes every inherited descriptor, so logging,
sockets, netlink and the event loop are all created after it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import daemon as python_daemon

from astlinux_ha import pidfile
from astlinux_ha.cli import Options
from astlinux_ha.config import Config
from astlinux_ha.logsetup import setup_logging
from astlinux_ha.supervisor import Supervisor

EXIT_OK = 0
EXIT_START_FAILED = 1


def _detach() -> None:
    # signal_map={} keeps python-daemon from installing its own SIGTERM handler (which raises
    # SystemExit anywhere) and from leaving SIGHUP at its default of killing us: the loop's
    # handlers take these over once it runs.
    ctx = python_daemon.DaemonContext(
        detach_process=True,
        umask=0o022,
        working_directory="/",
        signal_map={},
        prevent_core=True,
    )
    ctx.open()


def run(options: Options, config: Config) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the process exit code."""
    try:
        pidfile.check(options.pid_file)
    except pidfile.PidFileError as exc:
        print(f"astlinux-ha: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    if not options.dont_fork:
        _detach()
    pidfile.write(options.pid_file)
    log = setup_logging(
        console=options.log_console,
        detail=options.log_detail,
        log_facility=options.log_facility,
    )
    log.info("Starting astlinux-ha VRRP daemon (pid %d), config %s", os.getpid(),
             options.config_file)
    try:
        return asyncio.run(_serve(options, config, log))
    except Exception:
        log.exception("fatal error")
        return EXIT_START_FAILED
    finally:
        pidfile.remove(options.pid_file)
        log.info("Stopped astlinux-ha VRRP daemon")


async def _serve(options: Options, config: Config, log: logging.Logger) -> int:
    loop = asyncio.get_running_loop()
    sup = Supervisor(options, config, log)
    for signum, handler in (
        (signal.SIGTERM, sup.request_stop),
        (signal.SIGINT, sup.request_stop),
        (signal.SIGHUP, sup.request_reload),
        (signal.SIGUSR1, sup.dump_data),
        (signal.SIGUSR2, sup.dump_stats),
    ):
        loop.add_signal_handler(signum, handler)
    await sup.serve()
    return EXIT_OK
