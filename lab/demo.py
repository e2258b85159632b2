"""``make demo``: two AstLinux boxes set up and driven the way the seed's user guide says.

``python -m lab.demo --wheelhouse build/wheelhouse``: a lab with the seed's master,
backup and a LAN client; inside master and backup, ``make install`` from the wheelhouse (into the
box's own overlays, never the host) and the seed's config in /mnt/kd/keepalived/keepalived.conf;
then the seed's walk-through, every daemon action a ``service keepalived ...`` typed in a box,
with a timeline; at the end the master comes back (``service keepalived init``) and
``service keepalived status`` is shown on both boxes.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

from . import astlinux
from .lab import Lab
from .service_walkthrough import KD_CONF, run_service_walkthrough
from .walkthrough import SEED_VIP

REPO = astlinux.REPO


def main(argv: list[str] | None = None) -> int:
    """Run the demo; the exit status is 0 when the walk-through passed."""
    parser = argparse.ArgumentParser(prog="python -m lab.demo",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--wheelhouse", default=str(REPO / "build/wheelhouse"),
                        help="wheels for the offline boxes (make wheels)")
    parser.add_argument("--master", default=str(REPO / "etc/keepalived/keepalived.conf.master"))
    parser.add_argument("--backup", default=str(REPO / "etc/keepalived/keepalived.conf.backup"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("the lab needs root (network and mount namespaces)")
    wheelhouse = Path(args.wheelhouse).resolve()
    if not any(wheelhouse.glob("astlinux_ha-*.whl")):
        parser.error(f"no astlinux_ha wheel in {wheelhouse}: run make wheels")
    confs = {"master": Path(args.master).read_text(), "backup": Path(args.backup).read_text()}
    t0 = time.monotonic()

    def say(text: str = "") -> None:
        print(text, flush=True)

    with Lab() as lab:
        say(f"lab {lab.name}: a switch and three AstLinux boxes (no network beyond the switch)")
        master, backup, client = lab.add_seed_boxes()
        for box in (master, backup, client):
            say(f"  {box.name:<7} eth0 {box.address}")
        say()
        say("1. install the service on master and backup (offline, from the wheelhouse):")
        errors: list[str] = []

        def install(box) -> None:
            try:
                astlinux.install_in_box(box, wheelhouse)
            except Exception as exc:  # reported below, once both are done
                errors.append(f"{box.name}: {exc}")

        threads = [threading.Thread(target=install, args=(box,)) for box in (master, backup)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            say("\n".join(f"  FAILED {e}" for e in errors))
            return 1
        for box in (master, backup):
            say(f"  {box.name}# cd {REPO} && make install WHEELHOUSE={wheelhouse}")
            listing = box.run(["ls", "-l", "/etc/init.d/keepalived",
                               "/etc/runlevels/default/S12keepalived",
                               "/etc/runlevels/default/K28keepalived",
                               "/usr/local/sbin/astlinux-ha", "/etc/keepalived"]).stdout
            say("".join(f"      {' '.join(line.split()[8:])}\n" for line in listing.splitlines())
                .rstrip())
        say(f"  ({time.monotonic() - t0:.0f}s so far)")
        say()
        say(f"2. the seed's configs go to {KD_CONF} on each box; then the walk-through,")
        say("   every daemon action typed as `service keepalived ...` inside the box:")
        result = run_service_walkthrough(lab, confs["master"], confs["backup"], echo=say)
        say()
        say("3. bring the master back and look at both boxes:")
        proc = astlinux.service(master, "init")
        say(f"  master# service keepalived init\n      {proc.stdout.strip()} "
            f"(exit {proc.returncode})")
        try:
            took = lab.wait_for_holders(SEED_VIP, ["master"], 10)
            say(f"  {SEED_VIP} is back on master after {took:.1f}s")
        except Exception as exc:
            say(f"  {exc}")
        for box in (master, backup):
            status = astlinux.service(box, "status")
            say(f"  {box.name}# service keepalived status   (exit {status.returncode})")
            say("".join(f"      {line}\n" for line in status.stdout.splitlines()).rstrip())
            addr = [str(a) for a in box.addresses("eth0")]
            say(f"  {box.name}# ip addr show dev eth0 | grep inet")
            say("".join(f"      {line}\n" for line in addr).rstrip())
        say()
        # The timeline was printed as it happened: the verdict table alone now.
        text = result.render()
        header, _, rest = text.partition("\n\n")
        table = rest.find("\n  step ")
        say(header)
        say()
        say(rest[table + 1:] if table >= 0 else rest)
        say(f"\ndemo took {time.monotonic() - t0:.0f}s; the lab is removed now.")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
