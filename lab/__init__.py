"""The lab: virtual AstLinux boxes on a virtual switch, for tests, rehearsals and demos.

A *box* is a network namespace (``lo`` + ``eth0``, a veth into the switch) plus its own private
mount namespace in which commands see AstLinux's paths: overlays on the host's ``/etc``,
``/usr/local`` and ``/var`` (writes stay in the box and are thrown away), tmpfs ``/tmp`` (with
``/tmp/etc``), ``/run`` (= ``/var/run``) and ``/var/state``, a ``/mnt/kd`` that is a per-box
host directory (``box.kd_dir``: pre-populate it; it survives ``lab.reboot(box)``), and
``/etc/keepalived -> /tmp/etc/keepalived`` as the image ships it. ``/sys`` is the box's (so
``/sys/class/net`` lists its interfaces). The repo and its venv stay visible, so
``sys.executable -m astlinux_ha`` runs our daemon inside a box. The *switch* is bridge ``br0``
in its own namespace; box ``NAME`` is cabled to port ``pNAME``. Nothing is sent outside the
namespaces a lab creates, and the host's ``/etc``, ``/tmp``, ``/var/run`` are never written.

Use (tests get ``lab`` / ``seed_lab`` fixtures from tests/conftest.py)::

    with Lab() as lab:                       # unique name ahlab<pid>x<hex>; close() on exit
        master, backup, client = lab.add_seed_boxes()  # .62, .65, .10 /24 on eth0
        other = lab.add_box("spare", "10.10.50.70/24")
        master.run("ip addr")                # CompletedProcess[str]; check=True raises LabError
        d = master.spawn([...], name="x")    # Spawned: .pid .alive() .stop() .log_text()
        master.write("/mnt/kd/keepalived/keepalived.conf", text); master.read(path)
        master.addresses("eth0")             # [Address] via pyroute2; str(a) is ip-addr style
        master.holds("10.10.50.244"); lab.holders("10.10.50.244")  # -> ["master"]
        lab.wait_for_holders(vip, ["backup"], timeout=8)           # -> seconds waited
        master.pull_cable(); master.replug_cable()                 # carrier loss in the box
        lab.block_vrrp(master, backup); lab.unblock_vrrp(master, backup)  # nft on the bridge
        cap = lab.capture(); ...; cap.stop(); cap.packets()  # [VrrpPacket(time,src,dst,ttl,..)]
        ping = lab.pinger(client, vip); ...; report = ping.stop()  # .longest_gap .gaps()
        lab.reboot(master)                   # all processes die; new mount ns; /mnt/kd kept

Daemons (``daemons``): ``install_config(box, text)`` does what ``service keepalived init`` does
before starting (config in /mnt/kd/keepalived, /tmp/etc/keepalived link, /var/state/keepalived,
ip_nonlocal_bind); ``start(box, Daemon.KEEPALIVED | Daemon.ASTLINUX_HA)`` runs it in the
foreground with console logs. ``walkthrough.run_walkthrough(lab, master_conf, backup_conf,
master_daemon=..., backup_daemon=...)`` runs the seed's walk-through and returns a
``WalkthroughResult`` (``ok``, ``steps`` with ``took``/``longest_ping_gap``, ``render()``).

The service as AstLinux runs it (``astlinux``): ``build_image(DIR, wheelhouse)`` is ``make
install DESTDIR=DIR`` plus AstLinux's ``service`` helper and ``/etc/rc``-style loops; a box made
with ``lab.add_box(name, addr, image=DIR)`` sees it over /etc and /usr/local and keeps it across
reboots (``shared_build()``: one wheelhouse and image per process). ``install_in_box(box,
wheelhouse)`` runs ``make install`` inside a box instead. ``service(box, verb, shell=None|"dash"|
"ash")``, ``boot(box)``, ``shutdown(box)``, ``daemon_pids(box)``. ``service_walkthrough.
run_service_walkthrough(lab, m_conf, b_conf)`` is the walk-through driven only through
``service keepalived ...`` in the boxes; ``python -m lab.demo`` is ``make demo``.

``sweep()`` removes labs whose owner process is gone (crashed runs), and only those.
``rehearse.rehearse(lab, master_path, backup_path, master_daemon=..., backup_daemon=...)``
builds an empty lab from two configs (``rehearse_plan``: every interface, address and client
they need), runs pair-check and the walk-through on every instance and returns a
``RehearsalResult`` (``ok``, per-instance ``tables``, ``failures`` with named causes).

Command line: ``python -m lab up | down | shell BOX | rehearse M.conf B.conf
[--daemon D] [--master-daemon D] [--backup-daemon D] [--firewall] [-v] | sweep``.
"""

from ._host import LabError
from .box import Address, Box, Spawned
from .capture import Capture, VrrpPacket, read_vrrp_pcap
from .daemons import Daemon
from .lab import SEED_BOXES, Lab, sweep
from .pinger import Pinger, PingReport
from .walkthrough import SEED_VIP, WalkthroughResult, run_walkthrough

__all__ = [
    "Address", "Box", "Capture", "Daemon", "Lab", "LabError", "PingReport", "Pinger",
    "SEED_BOXES", "SEED_VIP", "Spawned", "VrrpPacket", "WalkthroughResult", "read_vrrp_pcap",
    "run_walkthrough", "sweep",
]
