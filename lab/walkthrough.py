"""The seed's walk-through as a reusable scenario: which daemon runs where is a parameter.

Steps (the user's guide, in order): start both daemons (the master, and only it, shows
``inet 10.10.50.244/32 scope global eth0:10``); pull the master's cable (the backup takes the
VIP); replug (it moves back); backup priority 101 and restart (the backup becomes master); undo
(back to normal); block VRRP between them (split brain: both hold it); unblock (healed within one
advert interval); stop the master's daemon (the backup takes over). A LAN client pings the VIP
every 10 ms throughout. Every wait is a deadline on a condition, never a fixed sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import daemons
from .box import Box, Spawned
from .daemons import Daemon
from .lab import Lab
from .monitor import BLOCKED, SETTLED, TRANSITION, HolderMonitor
from .pinger import PingReport

SEED_VIP = "10.10.50.244"
SEED_VIP_LINE = "inet 10.10.50.244/32 scope global eth0:10"
# Slack on top of the protocol's own times: process start-up and our 30 ms polling.
SLACK = 4.0
HEAL_TOLERANCE = 0.35
# How long a daemon may take to log its first state (Python's start-up on a loaded host).
READY_TIMEOUT = 10.0


@dataclass
class StepResult:
    """One step: when it started (s after the scenario's start), how long until the expected
    holders, who held the VIP then, and the client's longest ping gap during the step."""

    name: str
    expected: list[str]
    started: float
    took: float | None = None
    holders: list[str] = field(default_factory=list)
    longest_ping_gap: float | None = None
    error: str | None = None
    _wall: tuple[float, float] = (0.0, 0.0)


@dataclass
class WalkthroughResult:
    """Everything the walk-through measured. ``ok`` is the verdict; ``render()`` the story."""

    daemons: dict[str, str]
    vip: str
    advert_int: float
    steps: list[StepResult] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    longest_ping_gap: float | None = None
    max_transition_overlap: float = 0.0
    logs: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every step reached its expected holders and nothing was violated."""
        return bool(self.steps) and not self.violations and all(
            s.error is None for s in self.steps)

    def step(self, name: str) -> StepResult:
        """The step called ``name``."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def render(self) -> str:
        """A readable timeline and table of the run."""
        pair = ", ".join(f"{box}={daemon}" for box, daemon in self.daemons.items())
        lines = [f"walk-through ({pair}), VIP {self.vip}, advert_int {self.advert_int:g}s", ""]
        lines += [f"  t={t:7.2f}s  {text}" for t, text in self.timeline]
        lines += ["", f"  {'step':<34} {'expected':<16} {'took':>7}  {'ping gap':>8}  result"]
        for s in self.steps:
            took = f"{s.took:6.2f}s" if s.took is not None else "     - "
            gap = f"{s.longest_ping_gap:7.2f}s" if s.longest_ping_gap is not None else "      - "
            verdict = "ok" if s.error is None else f"FAILED: {s.error}"
            lines.append(f"  {s.name:<34} {'+'.join(s.expected) or 'nobody':<16} {took}  "
                         f"{gap}  {verdict}")
        lines.append("")
        if self.longest_ping_gap is not None:
            lines.append(f"  longest ping gap seen by the client: {self.longest_ping_gap:.2f}s")
        lines.append(f"  longest double holding during transitions (30 ms polling): "
                     f"{self.max_transition_overlap:.3f}s")
        lines += [f"  VIOLATION: {v}" for v in self.violations]
        lines.append(f"  result: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)


class _Scenario:
    """State of one run: the lab's boxes, their daemons, the monitor and the result."""

    def __init__(self, lab: Lab, master_conf: str, backup_conf: str, master_daemon: Daemon,
                 backup_daemon: Daemon, vip: str, advert_int: float,
                 echo: Callable[[str], None] | None, vip_line: str | None = None) -> None:
        self.lab = lab
        self.master, self.backup, self.client = lab.add_seed_boxes()
        self.confs = {self.master.name: master_conf, self.backup.name: backup_conf}
        self.kinds = {self.master.name: master_daemon, self.backup.name: backup_daemon}
        self.running: dict[str, Spawned] = {}
        self.vip = vip
        self.vip_line = vip_line or SEED_VIP_LINE.replace(SEED_VIP, vip)
        self.advert_int = advert_int
        self.echo = echo
        self.t0 = time.time()
        self.result = WalkthroughResult(
            {name: kind.value for name, kind in self.kinds.items()}, vip, advert_int)
        self.monitor = HolderMonitor(lambda: lab.holders(vip))

    # Down interval plus slack: the longest a correct daemon may need to take over.
    @property
    def failover_deadline(self) -> float:
        return 3 * self.advert_int + 1 + SLACK

    def note(self, text: str, at: float | None = None) -> None:
        when = (at or time.time()) - self.t0
        self.result.timeline.append((when, text))
        if self.echo:
            self.echo(f"  t={when:7.2f}s  {text}")

    def start_daemon(self, box: Box, conf_text: str, wait: bool = True) -> None:
        daemons.install_config(box, conf_text)
        self.running[box.name] = daemons.start(box, self.kinds[box.name])
        self.note(f"{box.name}: {self.kinds[box.name].value} started")
        if wait:
            self.wait_ready(box)

    def wait_ready(self, box: Box) -> None:
        # Until its instances have entered a state, a daemon is not yet a peer: pulling the
        # other box's cable then would time its start-up (a second for Python), not failover.
        if daemons.wait_ready(self.running[box.name], READY_TIMEOUT):
            self.note(f"{box.name}: ready")
        else:
            self.note(f"{box.name}: not ready after {READY_TIMEOUT:g}s")

    def stop_daemon(self, box: Box) -> None:
        proc = self.running.pop(box.name)
        code = proc.stop(timeout=10)
        self.note(f"{box.name}: {proc.name} stopped (exit {code})")

    def step(self, name: str, action: Callable[[], None], expected: list[Box],
             timeout: float, during: str = TRANSITION, after: str = SETTLED) -> StepResult:
        """Run ``action``, wait for ``expected`` to hold the VIP, then enter phase ``after``.

        ``took`` counts from the start of the action: a restart's stop is part of the handover.
        """
        want = [b.name for b in expected]
        step = StepResult(name, want, time.time() - self.t0)
        self.result.steps.append(step)
        wall_start = time.time()
        self.note(f"== {name}")
        self.monitor.set_phase(during)
        action()
        waited = self.monitor.wait_for(want, timeout)
        # From the first poll that saw the outcome, not from when wait_for noticed it: a
        # restart's stop returns only after the daemon exited, long after the handover.
        step.took = None if waited is None else max(0.0, self.monitor.current_since() - wall_start)
        step.holders = list(self.monitor.current)
        step._wall = (wall_start, time.time())
        if step.took is None:
            step.error = f"VIP held by {step.holders or 'nobody'} after {timeout:.1f}s"
            self.note(f"   expected {want}, still {step.holders} after {timeout:.1f}s")
        else:
            self.note(f"   VIP held by {'+'.join(want) or 'nobody'} after {step.took:.2f}s")
            self.monitor.set_phase(after)
        return step

    def run(self) -> WalkthroughResult:
        m, b = self.master, self.backup
        self.monitor.start()
        pinger = None
        try:
            steps: list[Callable[[], StepResult]] = [
                lambda: self.step("start both daemons", self._start_both, [m],
                                  self.failover_deadline + 5),
                lambda: self.step("pull the master's cable", m.pull_cable, [b],
                                  self.failover_deadline),
                lambda: self.step("replug the master's cable", m.replug_cable, [m],
                                  self.failover_deadline),
                lambda: self.step("backup priority 101, restart", lambda: self._restart_backup(
                    daemons.with_priority(self.confs[b.name], 101)), [b],
                    self.failover_deadline + 3),
                lambda: self.step("undo the priority, restart", lambda: self._restart_backup(
                    self.confs[b.name]), [m], self.failover_deadline + 3),
                lambda: self.step("block VRRP (split brain)", lambda: self.lab.block_vrrp(m, b),
                                  [m, b], self.failover_deadline, after=BLOCKED),
                lambda: self._heal_step(),
                lambda: self.step("stop the master's daemon", lambda: self.stop_daemon(m), [b],
                                  self.failover_deadline),
            ]
            for index, run_step in enumerate(steps):
                step = run_step()
                if index == 0 and step.error is None:
                    self._check_vip_line()
                    pinger = self.lab.pinger(self.client, self.vip)
                    self.note(f"client: pinging {self.vip} every 10 ms")
                if step.error is not None:
                    break
        finally:
            self.monitor.stop()
            report = pinger.stop() if pinger else None
            self._finish(report)
        return self.result

    def _start_both(self) -> None:
        # Together, as two boxes booting at once: neither waits for the other to be ready.
        self.start_daemon(self.master, self.confs[self.master.name], wait=False)
        self.start_daemon(self.backup, self.confs[self.backup.name], wait=False)
        self.wait_ready(self.master)
        self.wait_ready(self.backup)

    def _restart_backup(self, conf_text: str) -> None:
        self.stop_daemon(self.backup)
        self.start_daemon(self.backup, conf_text)

    def _heal_step(self) -> StepResult:
        # An admin notices a split brain after a while, not within one poll: the daemons get
        # two advert intervals of it to see (and log) the other master before it heals.
        hold = 2 * self.advert_int + 0.2
        time.sleep(hold)
        self.note(
            f"   still blocked after {hold:.2f}s: VIP held by "
            f"{'+'.join(self.monitor.current) or 'nobody'}"
        )
        step = self.step(
            "unblock VRRP (heals)",
            lambda: self.lab.unblock_vrrp(self.master, self.backup),
            [self.master],
            self.failover_deadline,
            during=BLOCKED,
        )
        limit = self.advert_int + HEAL_TOLERANCE
        if step.error is None and step.took is not None and step.took > limit:
            step.error = f"healed after {step.took:.2f}s, more than one advert interval"
        return step

    def _check_vip_line(self) -> None:
        lines = [str(a) for a in self.master.addresses("eth0")]
        if self.vip_line not in lines:
            self.result.violations.append(
                f"master's eth0 does not show '{self.vip_line}': {lines}")

    def _finish(self, report: PingReport | None) -> None:
        for when, holders in self.monitor.changes:
            self.result.timeline.append(
                (when - self.t0, f"   [VIP holders: {', '.join(holders) or 'nobody'}]"))
        self.result.timeline.sort(key=lambda item: item[0])
        self.result.violations += [
            f"t={when - self.t0:.2f}s: {', '.join(holders)} all held {self.vip} while settled"
            for when, holders in self.monitor.violations]
        self.result.max_transition_overlap = self.monitor.max_overlap
        if report is not None:
            self.result.longest_ping_gap = report.longest_gap
            for step in self.result.steps:
                if step._wall[1] > report.started:
                    step.longest_ping_gap = report.longest_gap_between(*step._wall)
        for box in (self.master, self.backup):
            self.result.logs[box.name] = "".join(
                f"--- {p.log_path.name}\n{p.log_text()}" for p in box.spawned)


def run_walkthrough(lab: Lab, master_conf: str, backup_conf: str, *,
                    master_daemon: Daemon = Daemon.KEEPALIVED,
                    backup_daemon: Daemon = Daemon.KEEPALIVED, vip: str = SEED_VIP,
                    advert_int: float = 1.0, vip_line: str | None = None,
                    echo: Callable[[str], None] | None = None) -> WalkthroughResult:
    """Run the seed's walk-through in ``lab`` (its seed boxes are added if missing).

    ``master_conf``/``backup_conf`` are config texts for the boxes called master and backup;
    ``echo`` receives each timeline line as it happens (the CLI prints them live).
    ``vip_line`` is how the master's ``ip addr`` must show the VIP after the start (the seed's
    ``inet 10.10.50.244/32 scope global eth0:10`` with ``vip`` put in by default).
    """
    return _Scenario(lab, master_conf, backup_conf, master_daemon, backup_daemon, vip,
                     advert_int, echo, vip_line).run()
