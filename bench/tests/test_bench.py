"""The benchmark's pure parts: statistics, config variants, event parsing, table rendering."""

from __future__ import annotations

import pytest

from bench import render
from bench.configs import VARIANT, scale_conf, scale_vip
from bench.failover import longest_silence
from bench.watch import parse_monitor
from lab import stats


def test_summary_counts_failures_apart():
    assert stats.summary([0.3, None, 0.1, 0.2]) == {"median": 0.2, "max": 0.3, "n": 3,
                                                    "failed": 1}
    assert stats.summary([None])["median"] is None


def test_percentile_interpolates():
    assert stats.percentile([1, 2, 3, 4], 50) == 2.5
    assert stats.percentile([5], 99) == 5
    assert stats.percentile(list(range(101)), 99) == 99
    with pytest.raises(ValueError):
        stats.percentile([], 50)


def test_jitter_is_deviation_from_nominal():
    times = [0.0, 0.050, 0.101, 0.149, 0.200]
    j = stats.jitter(times, 0.05)
    assert j["samples"] == 4
    assert j["max_ms"] == pytest.approx(2.0)
    assert j["mean_interval_ms"] == pytest.approx(50.0)


def test_master_down_interval_rfc():
    assert stats.master_down_interval(1.0, 99, 2) == pytest.approx(3 + 157 / 256)
    assert stats.master_down_interval(0.05, 99, 3) == pytest.approx(0.15 + 157 * 0.05 / 256)
    assert stats.skew_time(1.0, 99, 2) == pytest.approx(157 / 256)


def test_variants_rewrite_the_seed():
    text = VARIANT["v3-50ms-mc"].master_conf()
    assert "version 3" in text and "advert_int 0.05" in text
    assert "unicast_peer" not in text and "unicast_src_ip" not in text
    seed = VARIANT["v2-1s-uni"].backup_conf()
    assert "unicast_peer" in seed and "version" not in seed and "advert_int 1" in seed


def test_scale_conf_parses(tmp_path):
    from astlinux_ha.config import check

    path = tmp_path / "k.conf"
    path.write_text(scale_conf(200))
    result = check(str(path))
    assert result.config is not None and len(result.config.instances) == 200
    assert len({scale_vip(n) for n in range(1, 256)}) == 255


def test_parse_ip_monitor():
    text = ("[2026-11-25T08:51:15.136604] 2: eth0    inet 10.10.50.244/32 scope global eth0:10\n"
            "       valid_lft forever preferred_lft forever\n"
            "[2026-11-25T08:51:16.000001] Deleted 2: eth0    inet 10.10.50.244/32 scope global "
            "eth0:10\n")
    events = parse_monitor(text)
    assert [(e.ip, e.added) for e in events] == [("10.10.50.244", True),
                                                  ("10.10.50.244", False)]
    assert events[1].time - events[0].time == pytest.approx(0.863397, abs=1e-6)


def test_longest_silence_not_clipped_at_the_action():
    replies = [0.0, 0.01, 0.02, 3.0, 3.01]
    assert longest_silence(replies, 1.0, 3.05) == pytest.approx(2.98)
    assert longest_silence(replies, 3.005, 3.05) == pytest.approx(0.01)


def _rep(**kw):
    base = {m: 0.01 for m in ("start", "pull", "pull_wire", "pull_outage", "pull_outage_wire",
                              "replug", "stop", "stop_wire", "stop_outage")}
    base.update(master_down=3.6133, **kw)
    return base


def test_render_judges_ours():
    ours = [_rep(pull_wire=3.615, pull_outage_wire=3.64, stop_outage=0.016)] * 3
    theirs = [_rep(pull_wire=3.613, pull_outage_wire=3.632, stop_outage=0.62)] * 3
    rows = {r[1]: r for r in render.failover_rows("v2-1s-uni", ours, theirs)}
    assert rows["client outage, graceful stop"][5] == "yes"
    assert rows["cable pull: master's last advert → client answered again"][5] == "yes"
    assert rows["client outage, cable pull"][5] == "-"  # phase-dependent: not judged
    assert rows["client outage, graceful stop"][3] == "16.0 ms (16.0 ms)"
    wire = rows["cable pull, on the wire: master's last advert → backup's first"]
    assert wire[2].startswith("MD 3613 ms") and wire[5] == "yes"
    slow = [_rep(pull_wire=3.7)] + [_rep(pull=None)]
    rows = {r[1]: r for r in render.failover_rows("v2-1s-uni", slow, theirs)}
    assert rows["cable pull → backup holds the VIP"][3] == "10.0 ms, 1 failed"
    assert rows["cable pull, on the wire: master's last advert → backup's first"][5] == "**no**"


def test_render_whole_report():
    results = {
        "date": "2026-01-01 00:00", "machine": {"summary": "test box"},
        "settings": {"reps": 3, "mixed_reps": 3},
        "failover": {"v3-50ms-uni": {"ours": [_rep()], "keepalived": [_rep()]}},
        "mixed": {"v3-50ms-uni": {"M=ours,B=keepalived": [_rep()],
                                  "M=keepalived,B=ours": [_rep()]}},
        "jitter": {"idle": {"ours": {"p50_ms": 0.5, "p99_ms": 4.0, "max_ms": 5.0,
                                     "samples": 199}, "keepalived": {}}, "busy": {}},
        "scale": {"ours": {"200": {"cpu_pct": 2.0, "rss_mib": 40.0, "pss_mib": 30.0,
                                   "all_vips": 4.0, "all_vips_reps": [4.0, 4.2]}},
                  "keepalived": {"200": {"cpu_pct": 1.0, "rss_mib": 13.0, "pss_mib": 7.0,
                                         "all_vips": 3.7, "all_vips_reps": [3.7]}},
                  "master_down": 3.61},
        "config": {"parse": {"median_ms": 80.0, "target_ms": 100, "within_target": True},
                   "cli": {"ours": {"median_ms": 400, "max_ms": 420},
                           "keepalived": {"median_ms": 30, "max_ms": 31}}},
    }
    text = render.render(results)
    assert "| v3, 50 ms, unicast | client outage, graceful stop | < 50 ms |" in text
    assert "2.00 % (2.0×)" in text and "**no**" in text  # CPU ratio 2.0 and RSS 40 MiB miss
    assert "master ours, backup keepalived" in text
    assert text.count("\n| ---") == 2


def _rows(rows):
    return {(r[0], r[1]): r for r in rows}


def test_lateness_counts_only_late_intervals():
    from bench.jitter import lateness

    times = [0.0, 0.050, 0.106, 0.150, 0.200]  # 50, 56, 44, 50 ms
    late = lateness(times, 0.05)
    assert late["late_max_ms"] == pytest.approx(6.0)
    # the early 44 ms interval is not late (it is jitter)
    assert late["late_p50_ms"] == pytest.approx(0.0, abs=1e-9)
    assert stats.jitter(times, 0.05)["p50_ms"] == pytest.approx(3.0)
    with pytest.raises(ValueError):
        lateness([1.0], 0.05)


def test_advert_rows_judge_lateness_idle_and_all_cores_busy():
    def got(p99, late_max=2.0):
        return {"late_p50_ms": 0.1, "late_p99_ms": p99, "late_max_ms": late_max,
                "p50_ms": 0.3, "p99_ms": 1.5, "max_ms": 2.5, "samples": 199}

    jitter = {"cores": 2, "idle": {"ours": got(1.0), "keepalived": got(0.4)},
              "busy": {"ours": got(5.01), "keepalived": got(0.7)}}
    rows = render.jitter_rows(jitter)
    assert len(rows) == 4
    idle, idle_dev, busy, busy_dev = rows
    assert idle[0] == "adverts, v3 50 ms, idle"
    assert busy[0].startswith("adverts, v3 50 ms, both cores busy")
    assert "lateness p99" in idle[1] and "199 / 199 intervals" in idle[1]
    assert (idle[2], idle[5]) == ("≤ 1 ms", "yes")  # the bound itself is met
    assert (busy[2], busy[5]) == ("≤ 5 ms", "**no**")
    assert idle[3:5] == ["1.00 ms (2.00 ms)", "0.40 ms (2.00 ms)"]
    assert idle_dev[3] == "0.30 / 1.50 / 2.50 ms" and idle_dev[5] == "-"
    jitter["busy"]["ours"] = {}  # a failed measurement is no verdict
    assert render.jitter_rows(jitter)[2][3:] == ["-", "0.70 ms (2.00 ms)", "-"]


def _scale(cpu=0.7, rss=34.9, start200=(4.0, 4.05), start1=(3.85,)):
    md = stats.master_down_interval(1.0, 100, 2)
    ours = {"1": {"cpu_pct": 0.1, "rss_mib": 30.0, "pss_mib": 25.0,
                  "all_vips_reps": list(start1)},
            "50": {"cpu_pct": 0.3, "rss_mib": 31.0, "pss_mib": 26.0, "all_vips_reps": [4.0]},
            "200": {"cpu_pct": cpu, "rss_mib": rss, "pss_mib": 30.0,
                    "all_vips_reps": list(start200)}}
    theirs = {k: {"cpu_pct": 0.7, "rss_mib": 13.0, "pss_mib": 8.0, "all_vips_reps": [3.65]}
              for k in ours}
    imports = {"bare_mib": 10.66, "imports_mib": 26.86, "pyroute2_mib": 10.2,
               "pyroute2_modules": 163, "modules": ["astlinux_ha.cli", "astlinux_ha.daemon"]}
    return {"ours": ours, "keepalived": theirs, "master_down": md, "imports": imports}, md


def test_scale_rows_carry_issue_16_targets():
    scale, md = _scale()
    rows = _rows(render.scale_rows(scale, md))
    big = "200 instances, advert_int 1"
    cpu = rows[(big, "CPU, % of one core over the steady window")]
    assert cpu[2:] == ["≤ 1.0× keepalived", "0.70 % (1.0×)", "0.70 %", "yes"]
    rss = rows[(big, "RSS (PSS), MiB, master side")]
    assert rss[2] == "RSS ≤ 35 MiB" and rss[5] == "yes"
    start = rows[(big, "start → all 200 VIPs on the master")]
    assert start[2] == f"≤ MD + 0.5 s = {render.ms(md + 0.5)}" and start[5] == "yes"
    one = rows[("1 instance, advert_int 1", "start → the VIP on the master")]
    assert one[2] == f"≤ MD + 0.3 s = {render.ms(md + 0.3)}" and one[5] == "yes"
    assert one[3] == "3850 ms" and one[4] == "3650 ms"
    share = [r for k, r in rows.items() if k[0] == big and "pyroute2's share" in k[1]]
    assert len(share) == 1 and "`astlinux_ha.cli` + `astlinux_ha.daemon`" in share[0][1]
    assert "163 modules" in share[0][1]
    assert share[0][3] == "pyroute2 10.2 of 26.9 MiB (python alone 10.7)"
    scale["ours"]["200"]["window_s"] = 30.0
    cpu_rows = [r for r in render.scale_rows(scale, md) if r[0] == big and "CPU" in r[1]]
    assert cpu_rows[0][1] == "CPU, % of one core over the steady window (30 s)"
    scale["imports"]["pyroute2_package_init"] = True
    share = [r for r in render.scale_rows(scale, md) if "pyroute2's share" in r[1]]
    assert share[0][3].endswith("(python alone 10.7; its package `__init__` ran)")
    # the middle size shows the trend only
    assert all(r[5] == "-" for k, r in rows.items() if k[0].startswith("50 "))

    scale, md = _scale(cpu=0.71, rss=35.1, start200=(4.2, 4.0, 4.15), start1=(3.95, 3.9, 4.0))
    rows = _rows(render.scale_rows(scale, md))
    assert rows[(big, "CPU, % of one core over the steady window")][5] == "**no**"
    assert rows[(big, "RSS (PSS), MiB, master side")][5] == "**no**"
    assert rows[(big, "start → all 200 VIPs on the master")][5] == "**no**"
    assert rows[("1 instance, advert_int 1", "start → the VIP on the master")][5] == "**no**"


def _config(ours_ms, codes=(0,)):
    return {"cli_large": {"instances": 5000,
                          "ours": {"median_ms": ours_ms, "max_ms": ours_ms + 20,
                                   "exit_codes": list(codes)},
                          "keepalived": {"median_ms": 330.0, "max_ms": 340.0,
                                         "exit_codes": [0]}}}


def test_check_row_for_5000_instances_against_twice_keepalived_243():
    (row,) = render.config_rows(_config(680.0))
    assert row[0].startswith("config, 5000 instances (20 interfaces × 250 VRIDs")
    assert "2.2.7" in row[1]
    assert row[2] == "≤ 2× keepalived 2.4.3's 0.34 s (issue 16's measurement) = 680 ms"
    assert row[3:] == ["680 ms (700)", "330 ms (340)", "yes"]
    assert render.config_rows(_config(681.0))[0][5] == "**no**"
    rejected = render.config_rows(_config(120.0, codes=(0, 1)))[0]
    assert rejected[3] == "120 ms (140), exit 1" and rejected[5] == "**no**"


def test_check_conf_is_5000_instances_keepalived_would_take(tmp_path):
    from astlinux_ha.config import check
    from bench.configs import check_conf

    path = tmp_path / "k.conf"
    path.write_text(check_conf())
    result = check(str(path))
    assert result.config is not None
    instances = result.config.instances
    assert len(instances) == 5000
    pairs = {(i.interface, i.virtual_router_id) for i in instances}
    assert len(pairs) == 5000 and max(v for _, v in pairs) <= 255
    assert len({i.interface for i in instances}) == 20


def test_imports_probe_finds_pyroute2_in_the_daemons_imports():
    from bench import imports

    got = imports.measure(runs=1)
    assert got["pyroute2_modules"] > 0
    assert 0 < got["pyroute2_mib"] < got["imports_mib"]
    none = imports.measure(("astlinux_ha.config",), runs=1)
    assert none["pyroute2_modules"] == 0 and none["pyroute2_mib"] == 0
    whole = imports.measure(("pyroute2",), runs=1)
    assert whole["pyroute2_package_init"] and whole["pyroute2_mib"] > 0


KEEPALIVED_STATS = """\
VRRP Instance: VI_1
  Advertisements:
    Received: 7
    Sent: 0
  Became master: 1
  Packet Errors:
    Length: 3
    Invalid Type: 0
  Authentication Errors:
    Invalid Type: 2
"""
OUR_STATS = """\
------< astlinux-ha VRRP statistics, 2026-11-25 11:00:00 >------

VRRP Instance: VI_1
  checksum: 4
  sent: 12

Packets for no instance:
  short packet: 5

Link watcher re-syncs: 0
"""


def test_parse_stats_keeps_sections_apart():
    from lab.attack import parse_stats

    ka = parse_stats(KEEPALIVED_STATS)
    assert ka["Packet Errors/Length"] == 3 and ka["Advertisements/Received"] == 7
    assert ka["Packet Errors/Invalid Type"] == 0 and ka["Authentication Errors/Invalid Type"] == 2
    assert ka["Became master"] == 1
    ours = parse_stats(OUR_STATS)
    assert ours == {"checksum": 4, "sent": 12, "Packets for no instance/short packet": 5,
                    "Link watcher re-syncs": 0}


def _kind_row(kind, *, moved=False, changes=0, counted=None, alive=True):
    box = {"alive": alive, "counted": counted or {}, "log_lines": 1, "state_changes": changes,
           "log_sample": []}
    return {"kind": kind, "sent": 30, "vip_moved": moved, "holders": {"master": 5},
            "boxes": {"master": box, "backup": dict(box, state_changes=0)}}


def test_long_run_rows_judge_ours_and_show_keepalived_beside():
    from bench import long_run
    from lab import hostile

    kinds = list(hostile.KINDS)
    ours = [_kind_row(k, counted={"checksum": 10}) for k in kinds]
    theirs = [_kind_row(k) for k in kinds]
    theirs[3] = _kind_row(kinds[3], changes=2, counted={"Packet Errors/Length": 10})
    flood = {"flood": {"sent": 100_000, "seconds": 10.0}, "vip_moved": False,
             "holders": {"master": 9}, "lateness_ms": {"p50": 1.0, "p99": 2.0, "max": 3.0},
             "cpu_percent": 30.0}
    results = {"hostile": [
        {"daemon": "astlinux-ha", "kinds": ours, "flood": flood},
        {"daemon": "keepalived", "kinds": theirs,
         "flood": dict(flood, vip_moved=True, lateness_ms={"p50": 1, "p99": 2600.0,
                                                           "max": 2900.0})}]}
    rows = {r[1]: r for r in long_run.table_rows(results)}
    held = rows["kinds with no state change, VIP kept, both alive"]
    assert held[3:] == ["11 of 11", "10 of 11", "yes"]
    assert rows["kinds counted in the daemon's stats (SIGUSR2)"][3:] == [
        "11 of 11", "1 of 11", "yes"]
    assert rows["runs where the VIP moved"][3:] == ["0 of 1", "1 of 1", "yes"]
    assert rows["master's adverts on the wire: lateness p99 (max)"][5] == "yes"
    text = long_run.render(results)
    assert f"| {kinds[3]} | held; counted m: checksum +10" in text
    assert "**2 state changes**; counted m: Packet Errors/Length +10" in text
