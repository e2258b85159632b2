"""Rehearse two real configs before deploying them: ``python -m lab rehearse M.conf B.conf``.

The lab is built from the configs (see :mod:`rehearse_plan`): a master and a backup box with
every interface and address the configs need, a client on each LAN with VIPs. Then pair-check
reads the two files side by side and the guide's walk-through runs for every instance at once:
start, a cable pull and replug of each interface an instance uses, each stubbed track script
failing and recovering on the master, the backup's priority above the master's with a restart
and back, VRRP blocked between the boxes (split brain) and healed, a graceful stop. After each
step every instance must be held by the box :mod:`expect` says; each wait is a deadline made
of the configs' advert intervals, never a fixed sleep. What failed is explained with a named
cause (:mod:`diagnose`) and the daemons' log lines.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from astlinux_ha.config import check
from astlinux_ha.config import model as cfg
from astlinux_ha.paircheck import Finding, Level, Lines, Side, check_pair

from . import daemons, diagnose
from .box import Box, Spawned
from .daemons import Daemon
from .expect import World, expected
from .holdings import BLOCKED, SETTLED, TRANSITION, HoldingsMonitor
from .lab import Lab
from .pinger import Pinger
from .rehearse_plan import BACKUP, MASTER, Plan, plan

# Slack on top of the protocol's own times: process start-up (a second for Python on a loaded
# host) and the 30 ms polling.
SLACK = 4.0
HEAL_TOLERANCE = 0.35
READY_TIMEOUT = 10.0
# Where a box's config may name a script that rehearse can put a stub at (the box's overlays).
_WRITABLE = ("/etc/", "/mnt/kd/", "/tmp/", "/var/", "/usr/local/")
STUB_DIR = "/mnt/kd/keepalived"
# A stub track script succeeds until the scenario makes it fail with this flag file.
FAIL_FLAG = "/tmp/rehearse-fail-{name}"
# The guide's firewall (arno's) without the VRRP snippet: established traffic, ICMP and
# loopback in, everything else dropped.
FIREWALL = """table inet rehearse_fw {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iifname "lo" accept
    meta l4proto { icmp, ipv6-icmp } accept
  }
}
"""


@dataclass
class InstanceStep:
    """One step as one instance lived it."""

    step: str
    expected: list[str]
    took: float | None = None
    holders: list[str] = field(default_factory=list)
    ping_gap: float | None = None
    error: str | None = None
    wall: tuple[float, float] = field(default=(0.0, 0.0), repr=False)


@dataclass
class Failure:
    """What went wrong for an instance in a step, why, and what the daemons logged."""

    instance: str
    step: str
    what: str
    causes: list[str]
    log_lines: dict[str, list[str]]


@dataclass
class RehearsalResult:
    """The rehearsal's verdict (``ok``) and everything the report shows (``render()``)."""

    master_path: str
    backup_path: str
    daemons: dict[str, str]
    layout: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tables: dict[str, list[InstanceStep]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    firewall: bool = False

    @property
    def ok(self) -> bool:
        """True when every instance followed every step and nothing was violated."""
        return (bool(self.tables) and not self.problems and not self.violations
                and not self.failures and not self.findings_errors
                and all(s.error is None for steps in self.tables.values() for s in steps))

    @property
    def findings_errors(self) -> int:
        """pair-check's errors (warnings do not fail a rehearsal)."""
        return sum(f.level is Level.ERROR for f in self.findings)

    def render(self) -> str:
        """The report: layout, pair-check, one walk-through table per instance, failures."""
        pair = ", ".join(f"{box}={kind}" for box, kind in self.daemons.items())
        out = [f"rehearsal of {self.master_path} (master) and {self.backup_path} (backup): "
               f"{pair}" + (", with the guide's firewall (no VRRP rule)" if self.firewall
                            else ""), ""]
        out += ["lab:"] + [f"  {line}" for line in self.layout]
        if self.scripts:
            out += ["track scripts:"] + [f"  {line}" for line in self.scripts]
        out.append("pair-check:")
        out += [f"  {f.render()}" for f in self.findings] or ["  nothing to report"]
        out += [f"  {p}" for p in self.problems]
        for name, steps in self.tables.items():
            out += ["", f"instance {name}:",
                    f"  {'step':<40} {'expected':<15} {'took':>7}  {'ping gap':>8}  result"]
            for s in steps:
                took = f"{s.took:6.2f}s" if s.took is not None else "     - "
                gap = f"{s.ping_gap:7.2f}s" if s.ping_gap is not None else "      - "
                verdict = "ok" if s.error is None else f"FAILED: {s.error}"
                out.append(f"  {s.step:<40} {'+'.join(s.expected) or 'nobody':<15} {took}  "
                           f"{gap}  {verdict}")
        out += [f"VIOLATION: {v}" for v in self.violations]
        for f in self.failures:
            out += ["", f"FAILED: ({f.instance}) {f.step}: {f.what}"]
            out += [f"  cause: {c}" for c in f.causes]
            for box, lines in f.log_lines.items():
                out.append(f"  {box}'s log:")
                out += [f"    {line}" for line in lines] or ["    (nothing about it)"]
        verdict = "PASS" if self.ok else "FAIL"
        if self.findings_errors and not self.failures and not self.problems:
            verdict += f" (pair-check: {self.findings_errors} error(s))"
        out += ["", f"result: {verdict}"]
        return "\n".join(out)


def rehearse(lab: Lab, master_path: str, backup_path: str, *,
             master_daemon: Daemon = Daemon.ASTLINUX_HA,
             backup_daemon: Daemon = Daemon.ASTLINUX_HA, firewall: bool = False,
             echo: Callable[[str], None] | None = None) -> RehearsalResult:
    """Rehearse the pair in ``lab`` (an empty one); ``echo`` gets the timeline live."""
    result = RehearsalResult(master_path, backup_path,
                             {MASTER: master_daemon.value, BACKUP: backup_daemon.value},
                             firewall=firewall)
    configs: dict[str, cfg.Config] = {}
    sides = []
    for box, path in ((MASTER, master_path), (BACKUP, backup_path)):
        checked = check(path)
        if not checked.runnable or checked.config is None:
            result.problems += [p.render() for p in checked.problems]
            result.problems.append(f"{path}: configuration cannot run")
            continue
        configs[box] = checked.config
        sides.append(Side(checked.config, Lines(path)))
    if result.problems:
        return result
    result.findings = check_pair(sides[0], sides[1])
    the_plan = plan(configs[MASTER], configs[BACKUP])
    if not the_plan.pairs:
        result.problems.append("no instance of one config matches one of the other")
        return result
    texts = {MASTER: Path(master_path).read_text(), BACKUP: Path(backup_path).read_text()}
    kinds = {MASTER: master_daemon, BACKUP: backup_daemon}
    return _Rehearsal(lab, the_plan, configs, texts, kinds, result, echo).run()


class _Rehearsal:
    """One run: the boxes, their daemons, the world the expectations are made from."""

    def __init__(self, lab: Lab, the_plan: Plan, configs: dict[str, cfg.Config],
                 texts: dict[str, str], kinds: dict[str, Daemon], result: RehearsalResult,
                 echo: Callable[[str], None] | None) -> None:
        self.lab, self.plan, self.configs = lab, the_plan, configs
        self.texts, self.kinds, self.result, self.echo = texts, kinds, result, echo
        self.world = World()
        self.running: dict[str, Spawned] = {}
        self.exited: dict[str, int] = {}
        self.stubs: dict[str, list[str]] = {MASTER: [], BACKUP: []}
        self.t0 = time.time()
        self.advert_int = max(p.advert_int for p in the_plan.pairs)
        self.boxes: dict[str, Box] = {}
        self.pingers: dict[str, Pinger] = {}
        self.monitor: HoldingsMonitor | None = None

    # Down interval plus slack: the longest a correct daemon may need to take over.
    @property
    def deadline(self) -> float:
        return 3 * self.advert_int + 1 + SLACK

    # The backup's master-down interval (the slowest instance's): how long a backup that
    # never hears the master takes to become master too.
    @property
    def master_down(self) -> float:
        return max(3 * p.advert_int + (256 - p.backup.priority) / 256 *
                   (p.advert_int if p.backup.version == 3 else 1.0)
                   for p in self.plan.pairs) + 0.3

    def note(self, text: str) -> None:
        when = time.time() - self.t0
        self.result.timeline.append((when, text))
        if self.echo:
            self.echo(f"  t={when:7.2f}s  {text}")

    # -- building -----------------------------------------------------------------------------

    def build(self) -> None:
        segs = self.plan.segments.values()
        for seg in segs:
            if seg.bridge != "br0":
                self.lab.switch.add_bridge(seg.bridge)
        names = [MASTER, BACKUP] + [s.client for s in segs if s.client]
        for name in names:
            box = self.boxes[name] = self.lab.add_box(name, "")
            # No duplicate address detection: a configured static address on a quiet LAN.
            box.run("sysctl -qw net.ipv6.conf.all.accept_dad=0 "
                    "net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.eth0.accept_dad=0")
        for seg in segs:
            for name, cidrs in seg.addresses.items():
                box = self.boxes[name]
                ifname = seg.ifname if name in (MASTER, BACKUP) else "eth0"
                if name not in (MASTER, BACKUP) and seg.bridge != "br0":
                    ifname = "lan"
                    box.add_interface(ifname, seg.bridge, seg.port(name))
                elif name in (MASTER, BACKUP) and seg.bridge != "br0":
                    box.add_interface(ifname, seg.bridge, seg.port(name))
                for cidr in cidrs:
                    box.add_address(cidr, ifname)
                if name == seg.client:
                    for vip in seg.vips:
                        host = "128" if ":" in vip else "32"
                        box.run(["ip", "route", "replace", f"{vip}/{host}", "dev", ifname])
                self.result.layout.append(
                    f"{name:<8} {ifname:<8} {', '.join(cidrs) or '(no address)'}"
                    + (f"  pings {', '.join(seg.vips)}" if name == seg.client else ""))
        if self.result.firewall:
            for name in (MASTER, BACKUP):
                self.boxes[name].run(["nft", "-f", "-"], input=FIREWALL)
        for name in (MASTER, BACKUP):
            daemons.install_config(self.boxes[name], self.texts[name])
            self._scripts(name)

    def _scripts(self, name: str) -> None:
        """Track scripts: run for real when the box has them, else stubbed (said so)."""
        box, config = self.boxes[name], self.configs[name]
        used = {r.name for i in config.instances for r in i.track_scripts}
        used |= {r.name for g in config.sync_groups for r in g.track_scripts}
        text = self.texts[name]
        for script in config.scripts:
            if script.name not in used or script.script is None:
                continue
            path = shlex.split(script.script.command)[0]
            if box.exists(path):
                self.result.scripts.append(f"{name}: {script.name}: {path} runs for real")
                continue
            stub = f"#!/bin/sh\n# rehearse: a stub for vrrp_script {script.name} ({path} is " \
                   f"not on this machine)\n[ ! -e {FAIL_FLAG.format(name=script.name)} ]\n"
            if not path.startswith(_WRITABLE):
                target = f"{STUB_DIR}/rehearse-{script.name}.sh"
                text = text.replace(path, target)
            else:
                target = path
            box.write(target, stub, mode=0o755)
            self.stubs[name].append(script.name)
            self.result.scripts.append(f"{name}: {script.name}: stubbed ({path} is not on "
                                       "this machine): succeeds until the rehearsal fails it")
        if text != self.texts[name]:
            self.texts[name] = text
            daemons.install_config(box, text)

    # -- daemons ------------------------------------------------------------------------------

    def start(self, name: str, text: str) -> None:
        daemons.install_config(self.boxes[name], text)
        self.running[name] = daemons.start(self.boxes[name], self.kinds[name])
        self.world.running.add(name)
        self.note(f"{name}: {self.kinds[name].value} started")

    def ready(self, name: str) -> None:
        proc = self.running[name]
        if daemons.wait_ready(proc, READY_TIMEOUT):
            self.note(f"{name}: ready")
        elif not proc.alive():
            self.exited[name] = proc.popen.wait()
            self.world.running.discard(name)
            self.note(f"{name}: exited (code {self.exited[name]})")
        else:
            self.note(f"{name}: no instance entered a state after {READY_TIMEOUT:g}s")

    def stop(self, name: str) -> None:
        proc = self.running.pop(name)
        self.world.running.discard(name)
        code = proc.stop(timeout=10)
        self.note(f"{name}: {proc.name} stopped (exit {code})")

    # -- steps --------------------------------------------------------------------------------

    def step(self, title: str, action: Callable[[], None], timeout: float,
             after: str = SETTLED, during: str = TRANSITION, dwell: float = 0.0) -> bool:
        """Run ``action``; wait for every instance's expected holders; with ``dwell``, they
        must still hold that long after (a backup that never hears the master takes over
        only once its master-down timer runs out)."""
        assert self.monitor is not None
        self.note(f"== {title}")
        self.monitor.set_phase(during)
        started = time.time()
        action()
        want = expected(self.plan, self.configs, self.world)
        ok = self.monitor.wait_for(want, timeout)
        holders, partial, since = self.monitor.snapshot()
        late = ""
        if ok and dwell:
            self.monitor.set_phase(after)
            time.sleep(dwell)
            still, partial, _ = self.monitor.snapshot()
            if any(sorted(still[n]) != sorted(want[n]) or partial[n] for n in want):
                ok, holders, late = False, still, f" {dwell:.1f}s after {title!r}"
        ended = time.time()
        for pair in self.plan.pairs:
            step = InstanceStep(title, want[pair.name], holders=holders[pair.name])
            step.took = max(0.0, since[pair.name] - started)
            if not ok and (sorted(holders[pair.name]) != sorted(want[pair.name])
                           or partial[pair.name]):
                step.took = None
                step.error = (f"held by {'+'.join(holders[pair.name]) or 'nobody'}"
                              + (late or f" after {timeout:.1f}s"))
                if partial[pair.name]:
                    step.error += f" ({'+'.join(partial[pair.name])} with only some VIPs)"
                self._explain(pair.name, title, step)
            step.wall = (started, ended)
            self.result.tables[pair.name].append(step)
        if ok:
            self.monitor.set_phase(after)
            self.note("   every instance held as expected")
        return ok

    def _explain(self, name: str, title: str, step: InstanceStep) -> None:
        pair = next(p for p in self.plan.pairs if p.name == name)
        found = diagnose.causes(self.plan, pair, self.configs, step.expected, step.holders,
                                self.result.findings, self.result.firewall, self.exited)
        logs = {}
        for box in (MASTER, BACKUP):
            procs = [p for p in self.boxes[box].spawned if p.name in {d.value for d in Daemon}]
            if procs:
                logs[box] = diagnose.log_lines(procs[-1].log_text(), pair.side(box).name)
        self.result.failures.append(Failure(
            name, title, f"expected {'+'.join(step.expected) or 'nobody'}, "
            f"{step.error}", found, logs))

    def run(self) -> RehearsalResult:
        for pair in self.plan.pairs:
            self.result.tables[pair.name] = []
        try:
            self.build()
            self.monitor = HoldingsMonitor(
                [MASTER, BACKUP], {p.name: p.vips for p in self.plan.pairs},
                lambda box: {a.address for a in self.boxes[box].addresses(None)}).start()
            self._steps()
        finally:
            if self.monitor is not None:
                self.monitor.stop()
            self._finish()
        return self.result

    def _steps(self) -> None:
        m = self.boxes[MASTER]
        if not self.step("start both daemons", self._start_both, self.deadline + 5,
                         dwell=self.master_down):
            return
        for pair in self.plan.pairs:
            seg = self.plan.segments.get(pair.master.interface or "")
            if pair.vips and seg and seg.client:
                self.pingers[pair.name] = self.lab.pinger(self.boxes[seg.client], pair.vips[0])
        self.note("clients: pinging every instance's first VIP every 10 ms")
        used = sorted({i for p in self.plan.pairs for i in self.plan.uses(p)}
                      & set(self.plan.segments))
        for ifname in used:
            if not self.step(f"pull the master's {ifname} cable",
                             lambda i=ifname: self._pull(m, i), self.deadline):
                return
            if not self.step(f"replug the master's {ifname} cable",
                             lambda i=ifname: self._replug(m, i), self.deadline):
                return
        for script in self.stubs[MASTER]:
            extra = self._script_time(script)
            if not self.step(f"track script {script} fails on the master",
                             lambda s=script: self._fail_script(s, True), self.deadline + extra):
                return
            if not self.step(f"track script {script} recovers",
                             lambda s=script: self._fail_script(s, False), self.deadline + extra):
                return
        top = min(254, max(p.master.priority for p in self.plan.pairs) + 1)
        if not self.step(f"backup priority {top}, restart",
                         lambda: self._restart_backup(top), self.deadline + 3):
            return
        if not self.step("undo the priority, restart", lambda: self._restart_backup(None),
                         self.deadline + 3):
            return
        if not self.step("block VRRP (split brain)", self._block, self.deadline, after=BLOCKED):
            return
        # An admin notices a split brain after a while: two advert intervals of it.
        time.sleep(2 * self.advert_int + 0.2)
        if not self._heal():
            return
        self.step("stop the master's daemon", lambda: self.stop(MASTER), self.deadline)

    def _start_both(self) -> None:
        # Together, as two boxes booting at once.
        self.start(MASTER, self.texts[MASTER])
        self.start(BACKUP, self.texts[BACKUP])
        self.ready(MASTER)
        self.ready(BACKUP)

    def _pull(self, box: Box, ifname: str) -> None:
        box.pull_cable(ifname)
        self.world.pulled[MASTER].add(ifname)

    def _replug(self, box: Box, ifname: str) -> None:
        box.replug_cable(ifname)
        self.world.pulled[MASTER].discard(ifname)

    def _script_time(self, name: str) -> float:
        try:
            script = self.configs[MASTER].script(name)
        except KeyError:
            return 0.0
        return script.interval * (max(script.fall, script.rise) + 1) + (script.timeout or 0)

    def _fail_script(self, name: str, fail: bool) -> None:
        flag = FAIL_FLAG.format(name=name)
        self.boxes[MASTER].run(["touch", flag] if fail else ["rm", "-f", flag])
        (self.world.failed_scripts[MASTER].add if fail else
         self.world.failed_scripts[MASTER].discard)(name)

    def _restart_backup(self, priority: int | None) -> None:
        self.stop(BACKUP)
        text = self.texts[BACKUP]
        self.world.priority[BACKUP] = priority
        self.start(BACKUP, text if priority is None else daemons.with_priority(text, priority))
        self.ready(BACKUP)

    def _block(self) -> None:
        self._vrrp(block=True)

    def _vrrp(self, block: bool) -> None:
        for seg in self.plan.segments.values():
            ports = (seg.port(MASTER), seg.port(BACKUP))
            if block:
                self.lab.switch.block_vrrp(*ports)
            else:
                self.lab.switch.unblock_vrrp(*ports)
        self.world.blocked = block

    def _heal(self) -> bool:
        ok = self.step("unblock VRRP (heals)", lambda: self._vrrp(block=False), self.deadline,
                       during=BLOCKED)
        for pair in self.plan.pairs:
            step = self.result.tables[pair.name][-1]
            limit = pair.advert_int + HEAL_TOLERANCE
            if ok and step.took is not None and step.took > limit:
                step.error = f"healed after {step.took:.2f}s, more than one advert interval"
                ok = False
        return ok

    def _finish(self) -> None:
        if self.monitor is not None:
            for when, name, holders in self.monitor.changes:
                self.result.timeline.append(
                    (when - self.t0, f"   [{name}: {'+'.join(holders) or 'nobody'}]"))
            first: dict[str, tuple[float, list[str]]] = {}
            for when, name, holders in self.monitor.violations:
                first.setdefault(name, (when, holders))
            self.result.violations += [
                f"t={when - self.t0:.2f}s: ({name}) {'+'.join(holders)} both held its VIPs "
                "while settled" for name, (when, holders) in first.items()]
        self.result.timeline.sort(key=lambda item: item[0])
        for name, pinger in self.pingers.items():
            report = pinger.stop()
            for step in self.result.tables[name]:
                start, end = step.wall
                if end > report.started:
                    step.ping_gap = report.longest_gap_between(max(start, report.started), end)
        for name, box in self.boxes.items():
            if name in (MASTER, BACKUP):
                self.result.logs[name] = "".join(
                    f"--- {p.log_path.name}\n{p.log_text()}" for p in box.spawned)
