"""``python -m lab``: up, down, shell BOX, rehearse MASTER.conf BACKUP.conf, sweep."""

from __future__ import annotations

import argparse
import os
import sys

from . import registry
from .daemons import Daemon
from .lab import Lab, sweep
from .rehearse import rehearse


def _persistent_labs() -> list[str]:
    base = registry.base_dir()
    names = []
    if base.is_dir():
        for path in sorted(base.iterdir()):
            try:
                if registry.LabRecord.load(path).owner_pid is None:
                    names.append(path.name)
            except (FileNotFoundError, ValueError):
                continue
    return names


def _pick_lab(name: str | None) -> str:
    if name:
        return name
    labs = _persistent_labs()
    if len(labs) != 1:
        sys.exit(f"{len(labs)} labs are up ({', '.join(labs) or 'none'}); choose one with --lab")
    return labs[0]


def cmd_up(args: argparse.Namespace) -> int:
    lab = Lab(persistent=True)
    try:
        lab.add_seed_boxes()
    except BaseException:
        lab.close()
        raise
    print(f"lab {lab.name} is up:")
    for box in lab.boxes.values():
        print(f"  {box.name:<8} {box.address:<16} python -m lab shell {box.name}")
    print("remove it with: python -m lab down")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    names = [args.lab] if args.lab else _persistent_labs()
    for name in names:
        Lab.attach(name).close()
        print(f"lab {name} removed")
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    lab = Lab.attach(_pick_lab(args.lab))
    box = lab.box(args.box)
    argv = box.enter_argv() + ["--", "/bin/sh"] + (["-c", args.run] if args.run else ["-i"])
    env = box._env({"PS1": f"{box.name}# "})
    os.execvpe(argv[0], argv, env)
    return 1  # not reached


def cmd_rehearse(args: argparse.Namespace) -> int:
    master = Daemon(args.master_daemon or args.daemon)
    backup = Daemon(args.backup_daemon or args.daemon)
    with Lab() as lab:
        print(f"rehearsing {args.master} (master, {master.value}) and {args.backup} "
              f"(backup, {backup.value}) in lab {lab.name}")
        result = rehearse(lab, args.master, args.backup, master_daemon=master,
                          backup_daemon=backup, firewall=args.firewall,
                          echo=print if args.verbose else None)
        print()
        print(result.render())
        if not result.ok and args.verbose:
            for box, log in result.logs.items():
                print(f"\n===== {box} =====\n{log}")
    return 0 if result.ok else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    for name in sweep(include_persistent=args.all):
        print(f"removed leftover lab {name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m lab",
                                     description="virtual AstLinux boxes on a virtual switch")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="create the seed's master, backup and client boxes; keep them")
    down = sub.add_parser("down", help="remove labs made by 'up'")
    down.add_argument("--lab", help="only this lab")
    shell = sub.add_parser("shell", help="a shell inside a box")
    shell.add_argument("box")
    shell.add_argument("--lab")
    shell.add_argument("-c", dest="run", help="run this command instead of a shell")
    rehearse = sub.add_parser("rehearse", help="build two boxes from two configs and run the "
                              "guide's walk-through on every instance")
    rehearse.add_argument("master", help="the config of the box meant to be master")
    rehearse.add_argument("backup", help="the config of the backup box")
    daemon_names = [d.value for d in Daemon]
    rehearse.add_argument("--daemon", choices=daemon_names, default=Daemon.ASTLINUX_HA.value,
                          help="the daemon on both boxes (default astlinux-ha)")
    rehearse.add_argument("--master-daemon", choices=daemon_names,
                          help="the master's daemon (a mixed pair)")
    rehearse.add_argument("--backup-daemon", choices=daemon_names,
                          help="the backup's daemon (a mixed pair)")
    rehearse.add_argument("--firewall", action="store_true",
                          help="apply the guide's firewall without its VRRP rule in both boxes")
    rehearse.add_argument("-v", "--verbose", action="store_true",
                          help="print the timeline live, and the daemons' logs when it fails")
    sweeper = sub.add_parser("sweep", help="remove labs left by crashed runs")
    sweeper.add_argument("--all", action="store_true", help="labs made by 'up' as well")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("the lab needs root")
    handlers = {"up": cmd_up, "down": cmd_down, "shell": cmd_shell, "rehearse": cmd_rehearse,
                "sweep": cmd_sweep}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
