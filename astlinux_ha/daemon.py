"""The process: pid file, detaching, logging, signals, and the one asyncio loop.

Order matters here. The config and the pid file are checked before detaching, so the init
script sees a non-zero exit; python-daemon then closes every inherited descriptor, so logging,
sockets, netlink and the event loop are all created after it. The umask is set at that same
point (by python-daemon, or directly under -n), before the first file is created, and the pid
file's lock is taken just after it, by the process that will hold it.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys

from astlinux_ha import pidfile, precise_loop
from astlinux_ha.config import Config
from astlinux_ha.logsetup import setup_logging
from astlinux_ha.options import Options
from astlinux_ha.runtime.ports import Edges
from astlinux_ha.supervisor import Supervisor

EXIT_OK = 0
EXIT_START_FAILED = 1




def _detach(umask: int) -> None:
    # Imported here: only a daemon that forks needs it, once (-n never does).
    import daemon as python_daemon

    # signal_map={} keeps python-daemon from installing its own SIGTERM handler (which raises
    # SystemExit anywhere) and from leaving SIGHUP at its default of killing us: the loop's
    # handlers take these over once it runs.
    ctx = python_daemon.DaemonContext(
        detach_process=True,
        umask=umask,
        working_directory="/",
        signal_map={},
        prevent_core=True,
    )
    ctx.open()


M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
MMAP_THRESHOLD = 128 * 1024  # glibc's default, made fixed


def steady_malloc() -> bool:
    """Fix glibc's mmap threshold at its default (128 KiB); True when set.

    asyncio reads every datagram (each netlink answer or event) into a fresh 256 KiB buffer
    and shrinks it to the message. glibc's dynamic threshold moves up after the first such
    buffer is freed, so from then on they are carved from the heap, and the heap kept growing
    around the small survivors for hundreds of failovers (issue 9: master +2.3 MB over 300
    cable pulls, flat only after ~500). Fixed, they are mmap'd and returned whole: +0.8 MB by
    pull 300, nearly all in the first 100, then flat to 600. A no-op where mallopt is missing.
    """
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def run(options: Options, config: Config, problems: tuple[str, ...] = ()) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the process exit code.

    ``problems``: what checking the config found (``FILE:LINE: ...`` lines; it runs with the
    bad parts dropped), logged once syslog is up and shown by ``--status``.
    """
    try:
        pidfile.check(options.pid_file)
    except pidfile.PidFileError as exc:
        print(f"astlinux-ha: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    # The umask is set before anything is created (the pid file, logging's socket, state
    # files, FIFOs): under -n the caller's umask (000 from a careless shell) must not leak in.
    umask = options.umask_for(config)
    if options.dont_fork:
        os.umask(umask)
    else:
        _detach(umask)
    steady_malloc()
    log = setup_logging(
        console=options.log_console,
        detail=options.log_detail,
        log_facility=options.log_facility,
    )
    try:
        # After detaching: the lock is the final process's, and so is the pid in the file.
        held = pidfile.acquire(options.pid_file)
    except pidfile.PidFileError as exc:
        log.error("%s", exc)  # a daemon started at the same instant won the pid file
        return EXIT_START_FAILED
    log.info("Starting astlinux-ha VRRP daemon (pid %d), config %s", os.getpid(),
             options.config_file)
    try:
        # The loop wakes at its timers to the microsecond (see precise_loop.py).
        with asyncio.Runner(loop_factory=precise_loop.new_event_loop) as runner:
            return runner.run(_serve(options, config, log, problems))
    except Exception:
        log.exception("fatal error")
        return EXIT_START_FAILED
    finally:
        held.release()
        log.info("Stopped astlinux-ha VRRP daemon")


async def _serve(options: Options, config: Config, log: logging.Logger,
                 problems: tuple[str, ...]) -> int:
    loop = asyncio.get_running_loop()
    sup = Supervisor(options, config, log, problems, edges=Edges.real())
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
