"""Scripts in the lab (issue 6): notify and track scripts run by the daemon on real boxes.

Everything here is real: the scripts are files in the box's /mnt/kd/keepalived, owned by root
(or deliberately not secure), run as the configured ``script_user`` by our daemon started the
way AstLinux starts keepalived; what they record goes to a directory of /var/state/keepalived
that ``nobody`` may write; adverts are measured on the switch. Advert intervals are short
(VRRPv3) where the 1 s timing is not what a test is about, to keep the file under ~1 minute.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

import pytest

from lab import Box, Daemon, Lab, daemons
from lab.box import wait_until

pytestmark = [pytest.mark.root, pytest.mark.slow]

VIP = "10.10.50.244"
KD = "/mnt/kd/keepalived"
OUT = "/var/state/keepalived/scripts"  # writable for nobody, made by _prepare
NOBODY = 65534

# Records its time, real uid/gid and argv ($0 included), one line per run, bracketed args.
RECORDER = f"""#!/bin/sh
now=$(date +%s.%N)
{{ printf '%s %s %s' "$now" "$(id -u)" "$(id -g)"
  for a in "$0" "$@"; do printf ' [%s]' "$a"; done
  printf '\\n'; }} >> {OUT}/notify.log
"""

# A track script that fails while {OUT}/fail exists; logs each run's time and result.
CHECK = f"""#!/bin/sh
now=$(date +%s.%N)
if [ -e {OUT}/fail ]; then echo "$now fail" >> {OUT}/check.log; exit 1; fi
echo "$now ok" >> {OUT}/check.log
"""

# A track script that hangs: it logs its start, survives SIGTERM (logging it), and only
# SIGKILL ends it. Its sleep children die with the SIGTERM sent to the process group.
HANG = f"""#!/bin/sh
echo "start $(date +%s.%N) $$" >> {OUT}/hang.log
trap 'echo "term $(date +%s.%N) $$" >> {OUT}/hang.log' TERM
while :; do sleep 0.5; done
"""


def conf(router_id: str, priority: int, *, advert: str = "0.2", version: int = 3,
         globals_: str = "", scripts: str = "", instance: str = "") -> str:
    """A one-instance config like the seed's, multicast, with extra lines where asked."""
    return f"""global_defs {{
    router_id {router_id}
    vrrp_version {version}
{globals_}
}}
{scripts}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int {advert}
    virtual_ipaddress {{
        {VIP}/24
    }}
{instance}
}}
"""


def _prepare(box: Box, scripts: dict[str, tuple[str, int]]) -> None:
    """Install root-owned scripts (name -> (text, mode)) in /mnt/kd/keepalived and the output
    directory (owned by nobody); the config is installed afterwards by the test."""
    for name, (text, mode) in scripts.items():
        box.write(f"{KD}/{name}", text, mode=mode)
    box.run(f"chown root:root {KD} {KD}/* && chmod 0755 /mnt/kd {KD} && "
            f"mkdir -p {OUT} && chown nobody:nogroup {OUT} && chmod 0755 {OUT}")


def _start(box: Box, text: str, daemon: Daemon = Daemon.ASTLINUX_HA):
    daemons.install_config(box, text)
    if daemon is Daemon.ASTLINUX_HA:
        # The -t check first: a config problem shows here rather than as a silent daemon.
        check = box.run(daemon.argv()[:3] + ["-t", "-f", daemons.CONF], check=False)
        assert check.returncode == 0, check.stdout + check.stderr
    return daemons.start(box, daemon)


def _lines(box: Box, name: str) -> list[str]:
    if not box.exists(f"{OUT}/{name}"):
        return []
    return [line for line in box.read(f"{OUT}/{name}").splitlines() if line.strip()]


@dataclass(frozen=True)
class Run:
    """One recorded notify run."""

    time: float
    uid: int
    gid: int
    argv: tuple[str, ...]


def _runs(box: Box) -> list[Run]:
    runs = []
    for line in _lines(box, "notify.log"):
        head, _, rest = line.partition(" [")
        t, uid, gid = head.split()
        argv = tuple(("[" + rest).removeprefix("[").removesuffix("]").split("] ["))
        runs.append(Run(float(t), int(uid), int(gid), argv))
    return runs


def _adverts(packets, src: str) -> list[tuple[float, int]]:
    """(time, priority) of each advert ``src`` sent, oldest first."""
    return [(p.time, p.payload[2]) for p in packets if p.src == src]


def _stop_capture(cap) -> None:
    # tcpdump hands packets over in blocks with a 1 s timeout and drops the pending block on
    # SIGINT (no --immediate-mode in lab.capture): wait for the block before stopping.
    time.sleep(1.2)
    cap.stop()


def _two_boxes(lab: Lab) -> tuple[Box, Box]:
    return lab.add_box("ha1", "10.10.50.62/24"), lab.add_box("ha2", "10.10.50.65/24")


# ---------------------------------------------------------------------------------- notify


def test_notify_scripts_run_as_nobody_with_their_argv_in_transition_order(lab):
    ha1, ha2 = _two_boxes(lab)
    script = f"{KD}/notify.sh"
    _prepare(ha1, {"notify.sh": (RECORDER, 0o755)})
    notifies = f"""    notify_backup "{script} backup 'two words'"
    notify_master "{script} master"
    notify_stop "{script} stop"
    notify {script}
"""
    # ha2 outranks ha1 and is master first; ha1 starts as backup, then takes over.
    ha2_daemon = _start(ha2, conf("ha2", 200))
    lab.wait_for_holders(VIP, ["ha2"], timeout=5)
    ha1_daemon = _start(ha1, conf("ha1", 100, globals_="    script_user nobody nogroup\n"
                                  "    enable_script_security", instance=notifies))
    assert wait_until(lambda: len(_runs(ha1)) >= 2, timeout=5), ha1_daemon.log_text()
    time.sleep(0.5)
    assert lab.holders(VIP) == ["ha2"]

    ha2_daemon.stop()  # priority 0: ha1 takes over after its skew
    lab.wait_for_holders(VIP, ["ha1"], timeout=3)
    took_over = time.time()
    assert wait_until(lambda: len(_runs(ha1)) >= 4, timeout=3), ha1_daemon.log_text()

    assert ha1_daemon.stop() == 0
    assert wait_until(lambda: len(_runs(ha1)) >= 6, timeout=3), ha1_daemon.log_text()
    runs = _runs(ha1)

    assert [r.argv for r in runs] == [
        (script, "backup", "two words"),
        (script, "INSTANCE", "VI_1", "BACKUP", "100"),
        (script, "master"),
        (script, "INSTANCE", "VI_1", "MASTER", "100"),
        (script, "stop"),
        (script, "INSTANCE", "VI_1", "STOP", "100"),
    ]
    assert {(r.uid, r.gid) for r in runs} == {(NOBODY, NOBODY)}
    times = [r.time for r in runs]
    assert times == sorted(times)
    # notify_master ran at the takeover, not long after it.
    assert abs(runs[2].time - took_over) < 1.0, (runs[2].time, took_over)
    # What the scripts wrote is nobody's, with keepalived's default umask (0177).
    stat = ha1.run(["stat", "-c", "%u %a", f"{OUT}/notify.log"]).stdout.split()
    assert stat == [str(NOBODY), "600"]


# ---------------------------------------------------------------------------------- track


ADVERT, FALL, INTERVAL = 0.2, 3, 0.25
# How long the daemon may take to reap a failed script and apply its result (a loaded 2-core
# CI VM): an advert sent within it may still carry the old priority.
REAP = 0.05
TRACK = f"""vrrp_script chk_up {{
    script "{KD}/check.sh"
    interval {INTERVAL}
    weight -10
    fall {FALL}
    rise 2
}}
"""


def _peer(src: str, dst: str) -> str:
    return f"    unicast_src_ip {src}\n    unicast_peer {{\n        {dst}\n    }}\n"


def _track_failover(lab: Lab, daemon: Daemon, *, unicast: bool):
    """ha1 (100, tracking chk_up with weight -10) and ha2 (95); make chk_up fail until ha2
    holds the VIP. Returns the daemons, the boxes, the switch capture and the time of the
    fall-th failure."""
    ha1, ha2 = _two_boxes(lab)
    _prepare(ha1, {"check.sh": (CHECK, 0o755)})
    cap = lab.capture()
    ha1_daemon = _start(ha1, conf("ha1", 100, advert=str(ADVERT),
                                  globals_="    script_user nobody nogroup\n"
                                  "    enable_script_security", scripts=TRACK,
                                  instance=(_peer(ha1.ip, ha2.ip) if unicast else "")
                                  + "    track_script {\n        chk_up\n    }"), daemon)
    lab.wait_for_holders(VIP, ["ha1"], timeout=5)
    ha2_daemon = _start(ha2, conf("ha2", 95, advert=str(ADVERT),
                                  instance=_peer(ha2.ip, ha1.ip) if unicast else ""), daemon)
    time.sleep(1.5)
    assert lab.holders(VIP) == ["ha1"]
    flagged = float(ha1.run(f"date +%s.%N && touch {OUT}/fail").stdout)
    lab.wait_for_holders(VIP, ["ha2"], timeout=5)
    _stop_capture(cap)
    failures = [float(line.split()[0]) for line in _lines(ha1, "check.log")
                if line.endswith("fail") and float(line.split()[0]) >= flagged]
    assert len(failures) >= FALL, failures
    return ha1_daemon, ha2_daemon, ha1, ha2, cap.packets(), failures[FALL - 1]


@pytest.mark.parametrize("daemon", [
    Daemon.ASTLINUX_HA,
    pytest.param(Daemon.KEEPALIVED, marks=pytest.mark.skipif(
        shutil.which("keepalived") is None, reason="needs Debian's keepalived (make deps)")),
], ids=["astlinux-ha", "keepalived"])
def test_failing_track_script_lowers_priority_by_its_weight_and_moves_the_vip(lab, daemon):
    """Multicast: the same measurement holds for Debian's keepalived, so the bounds are
    keepalived's."""
    ha1_daemon, _, ha1, ha2, packets, nth = _track_failover(lab, daemon, unicast=False)
    ha1_adverts = _adverts(packets, ha1.ip)
    before = [p for t, p in ha1_adverts if t < nth]
    # An advert that leaves within REAP of the failure's mark may have been due before the
    # daemon reaped the script and applied its result: it is not the one that must show it.
    after = [(t, p) for t, p in ha1_adverts if t >= nth + REAP]
    # Up to the fall-th failure ha1 advertises 100 (fall=3 holds off the first failures) ...
    assert set(before[-int(INTERVAL * FALL / ADVERT):]) == {100}, ha1_adverts
    # ... and the very next advert after it carries 100 - 10.
    assert after and after[0][1] == 90, after
    assert after[0][0] - nth <= ADVERT + REAP + 0.03, (after[0][0] - nth)
    # ha2 (95) outranks 90: it discards ha1's adverts and takes over when its down timer,
    # started at ha1's last advert of 100, expires: 3 adverts + skew (as keepalived's backup).
    last_100 = max(t for t, p in ha1_adverts if p == 100 and t < nth + ADVERT)
    ha2_master = min(t for t, _ in _adverts(packets, ha2.ip))
    down = 3 * ADVERT + (256 - 95) * ADVERT / 256
    print(f"fall-th failure -> first advert at 90: {after[0][0] - nth:.3f} s; "
          f"-> ha2 master: {ha2_master - nth:.3f} s (down interval {down:.3f} s)")
    assert ha2_master - last_100 <= down + 0.05, (ha2_master - last_100, down)
    assert ha2_master - nth <= ADVERT + down + 0.05
    assert ha1_daemon.alive()
    log = ha1_daemon.log_text()
    assert "VRRP_Script(chk_up) failed" in log, log


def test_failing_track_script_moves_the_vip_within_one_advert_interval_with_one_peer(lab):
    """With the seed's single unicast peer our backup preempts the lowered master at once
    (fast preempt), instead of waiting out its down interval as keepalived does."""
    ha1_daemon, ha2_daemon, ha1, ha2, packets, nth = _track_failover(
        lab, Daemon.ASTLINUX_HA, unicast=True)
    first_90 = min(t for t, p in _adverts(packets, ha1.ip) if t >= nth and p == 90)
    ha2_master = min(t for t, _ in _adverts(packets, ha2.ip))
    print(f"fall-th failure -> ha1 advertises 90: {first_90 - nth:.3f} s; "
          f"-> ha2 master: {ha2_master - nth:.3f} s")
    # ha2 takes over on ha1's first advert at 90, within one advert interval of the failure.
    assert 0 <= ha2_master - first_90 <= 0.05, (ha2_master - first_90)
    assert ha2_master - nth <= ADVERT + 0.05, (ha2_master - nth)
    assert "preempting at once" in ha2_daemon.log_text(), ha2_daemon.log_text()
    assert ha1_daemon.alive()


def test_hung_track_script_is_killed_at_its_timeout_and_adverts_keep_their_schedule(lab):
    ha1 = lab.add_box("ha1", "10.10.50.62/24")
    advert, timeout, interval = 0.1, 1, 4
    _prepare(ha1, {"hang.sh": (HANG, 0o755)})
    track = f"""vrrp_script chk_hang {{
    script "{KD}/hang.sh"
    interval {interval}
    timeout {timeout}
    weight -10
}}
"""
    daemon = _start(ha1, conf("ha1", 100, advert=str(advert),
                              globals_="    script_user nobody nogroup\n"
                              "    enable_script_security",
                              scripts=track, instance="    track_script {\n"
                              "        chk_hang\n    }"))
    lab.wait_for_holders(VIP, ["ha1"], timeout=5)
    cap = lab.capture()
    start = time.time()
    # Follow one run from its start until its process is gone (it ignores nothing but
    # outlives SIGTERM, so it takes the SIGKILL 2 s after the timeout).
    assert wait_until(lambda: any(line.startswith("start ") and float(line.split()[1]) > start
                                  for line in _lines(ha1, "hang.log")), timeout=interval + 1)
    run = next(line.split() for line in _lines(ha1, "hang.log")
               if line.startswith("start ") and float(line.split()[1]) > start)
    started, pid = float(run[1]), int(run[2])
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}"), timeout=timeout + 4,
                      interval=0.01)
    gone = time.time()
    _stop_capture(cap)
    assert daemon.alive()

    terms = [float(line.split()[1]) for line in _lines(ha1, "hang.log")
             if line.startswith("term ") and int(line.split()[2]) == pid]
    assert terms, _lines(ha1, "hang.log")
    assert timeout - 0.02 <= terms[0] - started <= timeout + 0.15, terms[0] - started
    assert timeout + 2 - 0.05 <= gone - started <= timeout + 2 + 0.3, gone - started

    sent = _adverts(cap.packets(), ha1.ip)
    assert sent[0][0] <= started and sent[-1][0] >= gone, "capture must span the whole run"
    gaps = [b - a for (a, _), (b, _) in zip(sent, sent[1:], strict=False)]
    late = max(gaps) - advert
    print(f"{len(gaps)} advert gaps, longest {max(gaps) * 1000:.1f} ms; TERM after "
          f"{terms[0] - started:.3f} s, gone after {gone - started:.3f} s")
    assert late <= 0.020, f"an advert was {late * 1000:.1f} ms late (gaps {sorted(gaps)[-5:]})"
    # The timed-out run counted as a failure: the weight applied while the script hung.
    assert {p for t, p in sent if t > started + timeout + advert} == {90}
    assert "VRRP_Script(chk_hang) timed_out" in daemon.log_text()


# ---------------------------------------------------------------------------------- security


def test_insecure_scripts_are_refused_with_security_on_and_run_with_a_warning_off(lab):
    ha1 = lab.add_box("ha1", "10.10.50.62/24")
    bad_track = f"{KD}/bad_track.sh"
    bad_notify = f"{KD}/bad_notify.sh"
    _prepare(ha1, {
        "bad_track.sh": ("#!/bin/sh\nexit 1\n", 0o755),
        "bad_notify.sh": (RECORDER, 0o755),
    })
    ha1.run(["chmod", "0777", bad_track, bad_notify])  # world-writable: anyone could edit them
    interval = 1
    track = f"""vrrp_script chk_bad {{
    script "{bad_track}"
    interval {interval}
}}
"""
    instance = f"    track_script {{\n        chk_bad\n    }}\n    notify {bad_notify}\n"
    seed_globals = "    script_user root root\n"

    # Security on: both refused at start-up. The unweighted track script that would fail is
    # dropped (no FAULT: the box becomes master alone); the notify never runs.
    daemons.install_config(ha1, conf("ha1", 100, globals_=seed_globals +
                                     "    enable_script_security", scripts=track,
                                     instance=instance))
    check = ha1.run(Daemon.ASTLINUX_HA.argv()[:3] + ["-t", "-f", daemons.CONF], check=False)
    assert check.returncode == 6, check.stdout + check.stderr
    daemon = daemons.start(ha1, Daemon.ASTLINUX_HA)
    lab.wait_for_holders(VIP, ["ha1"], timeout=5)
    # Neither script may run. Kept, the failing track script would have run within one of
    # its intervals (and its FAULT dropped the VIP), and the generic notify was due at the
    # takeover that just happened: watch that long, plus 0.5 s for a shell to start and write.
    deadline = time.monotonic() + interval + 0.5
    while time.monotonic() < deadline:
        assert lab.holders(VIP) == ["ha1"] and _runs(ha1) == [], daemon.log_text()
        time.sleep(0.05)
    daemon.stop()
    log = daemon.log_text()
    assert f"Unsafe permissions found for script '{bad_track}' - disabling" in log, log
    assert f"Unsafe permissions found for script '{bad_notify}' - disabling" in log, log
    assert "Disabling track script chk_bad due to insecure" in log, log
    assert "SECURITY VIOLATION" not in log
    assert _runs(ha1) == []

    # Security off: the same scripts run (as root), with keepalived's warnings.
    daemons.install_config(ha1, conf("ha1", 100, globals_=seed_globals, scripts=track,
                                     instance=instance))
    daemon = daemons.start(ha1, Daemon.ASTLINUX_HA)
    assert wait_until(lambda: any("FAULT" in r.argv for r in _runs(ha1)), timeout=5), (
        daemon.log_text())
    assert lab.holders(VIP) == []
    daemon.stop()
    log = daemon.log_text()
    assert "SECURITY VIOLATION - scripts are being executed but script_security not enabled." \
        in log, log
    assert f"Unsafe permissions found for script '{bad_track}'" in log
    assert f"Unsafe permissions found for script '{bad_track}' - disabling" not in log
    runs = _runs(ha1)
    assert runs[0].uid == 0 and runs[0].argv[1:] == ("INSTANCE", "VI_1", "FAULT", "100"), runs
