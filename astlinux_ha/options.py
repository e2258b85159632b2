"""The daemon's options, and the one way a config is loaded for running them.

A start (``astlinux-ha`` without ``-t``) and a reload (SIGHUP) read the config through
:func:`load_for_run`, so both honour the same options (``-i ID`` picks the ``@ID`` lines);
when they were two calls, a reload once dropped the config id.
"""

from __future__ import annotations

from dataclasses import dataclass

from astlinux_ha.config import CheckResult, check
from astlinux_ha.config.model import Config

DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"
DEFAULT_PIDFILE = "/var/run/keepalived.pid"
DEFAULT_VRRP_PIDFILE = "/var/run/vrrp.pid"
DEFAULT_STATE_DIR = "/var/state/keepalived"
# keepalived's: what the daemon and its scripts create is root's alone unless asked.
DEFAULT_UMASK = 0o177


@dataclass(frozen=True, slots=True)
class Options:
    """The parsed command line, typed, as the daemon receives it."""

    config_file: str = DEFAULT_CONFIG
    dont_fork: bool = False
    log_console: bool = False
    log_detail: bool = False
    log_facility: int | None = None  # -S N: LOG_LOCALN; None: the daemon facility
    pid_file: str = DEFAULT_PIDFILE
    vrrp_pid_file: str = DEFAULT_VRRP_PIDFILE
    state_dir: str = DEFAULT_STATE_DIR
    config_test: bool = False
    status: bool = False  # --status: print the state dir's status table instead of running
    release_vips: bool = True  # -V (--dont-release-vrrp) keeps VIPs on stop
    no_respawn: bool = False
    umask: int | None = None
    config_id: str | None = None

    def umask_for(self, config: Config) -> int:
        """The umask of the daemon and its scripts: ``-u``, else the config's ``umask``,
        else keepalived's 0177. keepalived lets the command line win (it logs "umask command
        line option specified, ignoring config option")."""
        if self.umask is not None:
            return self.umask
        g = config.global_defs
        return g.umask if g.umask is not None else DEFAULT_UMASK


def load_for_run(options: Options, path: str | None = None) -> CheckResult:
    """Read and check the config as the daemon runs it, at start and on every reload.

    ``path`` defaults to ``options.config_file``. The host checks of ``-t`` are not run here:
    the daemon judges scripts itself when it plans them, and a missing interface waits in
    FAULT. The result's ``runnable`` says whether the daemon may start (or switch to) it.
    """
    target = options.config_file if path is None else path
    return check(target, config_id=options.config_id)
