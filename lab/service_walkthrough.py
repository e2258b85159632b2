"""The seed's walk-through driven only through ``service keepalived ...`` inside the boxes.

The same steps and measurements as :mod:`walkthrough`, but every daemon action is what an
AstLinux admin types: the config is written to /mnt/kd/keepalived/keepalived.conf, then
``service keepalived init`` starts it, ``service keepalived restart`` applies the priority edit,
``service keepalived stop`` stops the master. The boxes must already have the service installed
(``astlinux.build_image`` + ``lab.add_box(..., image=...)``, or ``astlinux.install_in_box``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from . import astlinux
from .box import Box
from .daemons import Daemon
from .lab import Lab
from .walkthrough import SEED_VIP, WalkthroughResult, _Scenario

KD_CONF = "/mnt/kd/keepalived/keepalived.conf"
STATUS_JSON = "/var/state/keepalived/status.json"
READY_STATES = ("BACKUP", "MASTER", "FAULT")
READY_TIMEOUT = 10.0
LABEL = "service keepalived (astlinux-ha)"


class ServiceScenario(_Scenario):
    """The walk-through's daemon actions replaced by ``service keepalived VERB`` in the box."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.result.daemons = {name: LABEL for name in self.result.daemons}
        self.outputs: dict[str, list[str]] = {self.master.name: [], self.backup.name: []}
        self._lock = threading.Lock()

    def service(self, box: Box, verb: str) -> int:
        """``service keepalived VERB`` in ``box``; its output goes into the timeline."""
        proc = astlinux.service(box, verb)
        text = (proc.stdout + proc.stderr).strip()
        with self._lock:
            self.outputs[box.name].append(f"# service keepalived {verb}  (exit {proc.returncode})"
                                          f"\n{text}")
            said = "; ".join(line for line in text.splitlines() if line) or "(silent)"
            self.note(f"{box.name}# service keepalived {verb} -> exit {proc.returncode}: {said}")
        return proc.returncode

    def start_daemon(self, box: Box, conf_text: str, wait: bool = True) -> None:
        box.write(KD_CONF, conf_text, mode=0o644)
        self.service(box, "init")
        if wait:
            self.wait_ready(box)

    def wait_ready(self, box: Box) -> None:
        # Its instances have entered a state once status.json says so: only then is it a peer.
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if _instance_states(box) and all(s in READY_STATES for s in _instance_states(box)):
                self.note(f"{box.name}: ready ({', '.join(_instance_states(box))})")
                return
            time.sleep(0.05)
        self.note(f"{box.name}: not ready after {READY_TIMEOUT:g}s")

    def stop_daemon(self, box: Box) -> None:
        self.service(box, "stop")

    def _start_both(self) -> None:
        # Together, as two boxes booting at once: neither waits for the other.
        threads = [threading.Thread(target=self.start_daemon, args=(box, self.confs[box.name]),
                                    kwargs={"wait": False})
                   for box in (self.master, self.backup)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.wait_ready(self.master)
        self.wait_ready(self.backup)

    def _restart_backup(self, conf_text: str) -> None:
        self.backup.write(KD_CONF, conf_text, mode=0o644)
        prio = next((line.split()[1] for line in conf_text.splitlines()
                     if line.split()[:1] == ["priority"]), "?")
        self.note(f"{self.backup.name}: edited {KD_CONF} (priority {prio})")
        self.service(self.backup, "restart")

    def _finish(self, report) -> None:
        super()._finish(report)
        for box in (self.master, self.backup):
            self.result.logs[box.name] = "\n".join(self.outputs[box.name])


def _instance_states(box: Box) -> list[str]:
    proc = box.run(["cat", STATUS_JSON], check=False)
    try:
        status = json.loads(proc.stdout)
    except ValueError:
        return []
    return [str(inst.get("state")) for inst in status.get("instances", {}).values()]


def run_service_walkthrough(lab: Lab, master_conf: str, backup_conf: str, *,
                            vip: str = SEED_VIP, advert_int: float = 1.0,
                            echo: Callable[[str], None] | None = None) -> WalkthroughResult:
    """The seed's walk-through through ``service keepalived`` in ``lab``'s master and backup
    boxes (which must have the service installed; the client box is added if missing)."""
    return ServiceScenario(lab, master_conf, backup_conf, Daemon.ASTLINUX_HA, Daemon.ASTLINUX_HA,
                           vip, advert_int, echo).run()
