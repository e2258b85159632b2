"""Logging set up the way keepalived logs, so admins' grep habits carry over.

keepalived's VRRP child logs to syslog as ``Keepalived_vrrp[PID]: (VI_1) Entering MASTER STATE``
with the daemon facility (``-S N`` picks LOCALN), and with ``-l`` also to the console.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys

LOGGER_NAME = "astlinux_ha"
SYSLOG_IDENT = "Keepalived_vrrp"
SYSLOG_SOCKET = "/dev/log"

_LOCAL_FACILITIES = [
    logging.handlers.SysLogHandler.LOG_LOCAL0,
    logging.handlers.SysLogHandler.LOG_LOCAL1,
    logging.handlers.SysLogHandler.LOG_LOCAL2,
    logging.handlers.SysLogHandler.LOG_LOCAL3,
    logging.handlers.SysLogHandler.LOG_LOCAL4,
    logging.handlers.SysLogHandler.LOG_LOCAL5,
    logging.handlers.SysLogHandler.LOG_LOCAL6,
    logging.handlers.SysLogHandler.LOG_LOCAL7,
]


def facility_for(log_facility: int | None) -> int:
    """Map keepalived's ``-S 0..7`` to LOCAL0..7; no ``-S`` means the daemon facility."""
    if log_facility is None:
        return logging.handlers.SysLogHandler.LOG_DAEMON
    if not 0 <= log_facility <= 7:
        raise ValueError(f"log facility must be 0-7, got {log_facility}")
    return _LOCAL_FACILITIES[log_facility]


def setup_logging(
    *,
    console: bool,
    detail: bool,
    log_facility: int | None,
    syslog_socket: str = SYSLOG_SOCKET,
) -> logging.Logger:
    """Configure the package logger; call after daemonizing, since that closes inherited fds."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.DEBUG if detail else logging.INFO)
    logger.propagate = False

    if os.path.exists(syslog_socket):
        try:
            handler = logging.handlers.SysLogHandler(
                address=syslog_socket, facility=facility_for(log_facility)
            )
        except OSError as exc:
            # No syslogd listening: the console (if asked for) is then the only log.
            print(f"astlinux-ha: syslog unavailable at {syslog_socket}: {exc}", file=sys.stderr)
        else:
            handler.ident = f"{SYSLOG_IDENT}[{os.getpid()}]: "
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)

    if console:
        stream = logging.StreamHandler(sys.stderr)
        # keepalived's console lines read "Wed Nov 25 08:30:00 2026: message".
        stream.setFormatter(logging.Formatter("%(asctime)s: %(message)s", "%a %b %d %H:%M:%S %Y"))
        logger.addHandler(stream)

    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger
