"""Checks of a config against this host, before it runs: what ``-t`` adds to the reader's.

The config package reads text and knows nothing of the host; this package may import both it
and ``astlinux_ha.scripts``, and is the one place that joins them:

  script_security  every configured script through enable_script_security's checks (argv,
                   user, verdict), as keepalived does at start-up; the daemon runs what passes
  host_checks      the named interfaces exist; AstLinux's firewall lets multicast VRRP in
"""

from __future__ import annotations

from astlinux_ha.config import CheckResult
from astlinux_ha.config import check as check_config
from astlinux_ha.config.model import Config
from astlinux_ha.problems import Problem

from .host_checks import firewall_problems, interface_problems, nft_problems
from .script_security import ScriptCheck, ScriptReport, check_scripts


def host_problems(config: Config) -> tuple[Problem, ...]:
    """Everything only this host can tell about ``config``: missing interfaces, a firewall
    that keeps multicast VRRP out, and every script's security verdict and user lookup."""
    return (*interface_problems(config), *firewall_problems(config), *nft_problems(config),
            *check_scripts(config).problems)


def check(path: str, *, config_id: str | None = None) -> CheckResult:
    """``-t``'s check: :func:`astlinux_ha.config.check` plus :func:`host_problems`."""
    result = check_config(path, config_id=config_id)
    if result.config is None:
        return result
    return CheckResult(result.config, (*result.problems, *host_problems(result.config)))


__all__ = ["ScriptCheck", "ScriptReport", "check", "check_scripts", "host_problems"]
