"""Notify and track scripts: keepalived's security checks, users, and running them on asyncio.

Splitting a configured command into argv is config syntax (``astlinux_ha.config.argv``);
judging every script of a config is the preflight's (``astlinux_ha.preflight``).

Modules, each with one job:
  users     resolve script_user / per-script USER [GROUP] to uid, gid and groups
  security  enable_script_security path walk and verdicts; problems for ``-t``
  runner    spawn a script as its user in its own process group; kill a group
  notify    per-instance notify scripts and notify FIFOs, in transition order
  track     vrrp_script scheduling and rise/fall (what a status does: vrrp.tracking)
"""
