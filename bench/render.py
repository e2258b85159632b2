"""The results as Markdown: one table for ours against keepalived, one for mixed pairs.

Cells are ``median (max)`` over the repetitions; a repetition whose step failed is counted
as ``n failed``, never as a number. ``Target`` states the goal, ``Met`` judges ours.
"""

from __future__ import annotations

from lab.stats import ratio, summary

from .configs import VARIANT

STEP_ROWS = [  # (metric, text)
    ("start", "start → master holds the VIP"),
    ("pull", "cable pull → backup holds the VIP"),
    ("pull_wire", "cable pull, on the wire: master's last advert → backup's first"),
    ("pull_outage", "client outage, cable pull"),
    ("pull_outage_wire", "cable pull: master's last advert → client answered again"),
    ("replug", "replug → master holds the VIP again"),
    ("stop", "graceful stop → backup holds the VIP"),
    ("stop_outage", "client outage, graceful stop"),
]
PULL_TOLERANCE = 0.010
PING_STEP = 0.010  # the client pings every 10 ms: outages differ by a step for nothing
STOP_OUTAGE_TARGET = 0.050
JITTER_TARGET_MS = {"idle": 5.0, "busy": 20.0}
CPU_RATIO, RSS_RATIO = 2.0, 2.5


def ms(value: float | None) -> str:
    """Seconds as milliseconds: ``3614 ms``, ``16.1 ms``; ``-`` for nothing."""
    if value is None:
        return "-"
    v = value * 1000.0
    return f"{v:.0f} ms" if v >= 100 else f"{v:.1f} ms"


def cell(values: list[float | None], fmt=ms) -> str:
    """``median (max)`` of the repetitions, with failures named."""
    s = summary(values)
    if s["n"] == 0:
        return f"{s['failed']} failed" if s["failed"] else "-"
    text = fmt(s["median"]) if s["n"] == 1 else f"{fmt(s['median'])} ({fmt(s['max'])})"
    return text + (f", {s['failed']} failed" if s["failed"] else "")


def _median(values: list[float | None]) -> float | None:
    return summary(values)["median"]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**no**")


def failover_rows(variant_key: str, ours: list[dict], theirs: list[dict],
                  judge: bool = True) -> list[list[str]]:
    """Table rows for one variant; ``judge`` adds targets (off for mixed pairs)."""
    variant = VARIANT[variant_key]
    rows = []
    for metric, text in STEP_ROWS:
        a = [r.get(metric) for r in ours]
        b = [r.get(metric) for r in theirs]
        target, ok = "", None
        down = (ours or theirs)[0]["master_down"] if (ours or theirs) else None
        if judge and metric == "pull_wire" and down is not None:
            target = f"MD {ms(down)} ± 10 ms"
            med = _median(a)
            ok = None if med is None else abs(med - down) <= PULL_TOLERANCE
        elif judge and metric == "pull_outage_wire":
            target = "≤ keepalived (+10 ms ping step)"
            ma, mb = _median(a), _median(b)
            ok = None if ma is None or mb is None else ma <= mb + PING_STEP
        elif judge and metric == "stop_outage" and variant.unicast:
            target = "< 50 ms"
            med = _median(a)
            ok = None if med is None else med < STOP_OUTAGE_TARGET
        rows.append([variant.label, text, target, cell(a), cell(b), _verdict(ok)])
    return rows


def jitter_rows(jitter: dict) -> list[list[str]]:
    """Advert timing rows: p50, p99 and max of |interval - 50 ms|."""
    rows = []
    for load in ("idle", "busy"):
        ours, theirs = jitter.get(load, {}).get("ours", {}), jitter.get(load, {}).get(
            "keepalived", {})
        for key, name in (("p50_ms", "p50"), ("p99_ms", "p99"), ("max_ms", "max")):
            target, ok = "", None
            if key == "p99_ms":
                target = f"< {JITTER_TARGET_MS[load]:g} ms"
                ok = None if key not in ours else ours[key] < JITTER_TARGET_MS[load]
            label = "one core busy" if load == "busy" else "idle"
            rows.append([f"advert jitter, v3 50 ms, {label}",
                         f"{name} of \\|interval − 50 ms\\| ({ours.get('samples', 0)} "
                         f"/ {theirs.get('samples', 0)} intervals)", target,
                         _jms(ours.get(key)), _jms(theirs.get(key)), _verdict(ok)])
    return rows


def _jms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def scale_rows(scale: dict, down: float) -> list[list[str]]:
    """CPU, RSS (PSS) and start-up time at each size."""
    rows = []
    ours, theirs = scale.get("ours", {}), scale.get("keepalived", {})
    sizes = sorted({int(n) for n in list(ours) + list(theirs)})
    largest = max(sizes, default=0)
    for n in sizes:
        a, b = ours.get(n) or ours.get(str(n)) or {}, theirs.get(n) or theirs.get(str(n)) or {}
        label = f"{n} instance{'s' if n > 1 else ''}, advert_int 1"
        cpu_target = cpu_ok = rss_target = rss_ok = None
        if n == largest:
            r = ratio(a.get("cpu_pct"), b.get("cpu_pct"))
            cpu_target = f"≤ {CPU_RATIO:g}× keepalived"
            cpu_ok = None if r is None else r <= CPU_RATIO
            r = ratio(a.get("rss_mib"), b.get("rss_mib"))
            rss_target = f"≤ {RSS_RATIO:g}× keepalived"
            rss_ok = None if r is None else r <= RSS_RATIO
        rows.append([label, "CPU, % of one core over the steady window", cpu_target or "",
                     _pct(a.get("cpu_pct"), b.get("cpu_pct")), _pct(b.get("cpu_pct")),
                     _verdict(cpu_ok)])
        rows.append([label, "RSS (PSS), MiB, master side", rss_target or "",
                     _mib(a, b), _mib(b), _verdict(rss_ok)])
        va, vb = a.get("all_vips_reps", [a.get("all_vips")]), b.get("all_vips_reps",
                                                                      [b.get("all_vips")])
        target, ok = "", None
        if n == largest:
            target = f"≤ MD + 1 s = {ms(down + 1)}"
            med = _median(va)
            ok = None if med is None else med <= down + 1
        rows.append([label, f"start → all {n} VIPs on the master", target, cell(va), cell(vb),
                     _verdict(ok)])
    return rows


def _pct(value: float | None, other: float | None = None) -> str:
    if value is None:
        return "-"
    r = ratio(value, other)
    return f"{value:.2f} %" + (f" ({r:.1f}×)" if r is not None else "")


def _mib(a: dict, b: dict | None = None) -> str:
    if a.get("rss_mib") is None:
        return "-"
    r = ratio(a.get("rss_mib"), (b or {}).get("rss_mib"))
    return (f"{a['rss_mib']:.1f} ({a.get('pss_mib', 0):.1f})"
            + (f" {r:.1f}×" if r is not None else ""))


def config_rows(config: dict) -> list[list[str]]:
    """Parse time of the 255 × 20 file."""
    rows = []
    parse = config.get("parse") or {}
    cli = config.get("cli") or {}
    if parse:
        rows.append(["config, 255 instances × 20 VIPs", "parse + checks in-process, median",
                     f"< {parse.get('target_ms', 100):g} ms", f"{parse['median_ms']:.1f} ms",
                     "-", _verdict(parse.get("within_target"))])
    if cli:
        o, k = cli.get("ours", {}), cli.get("keepalived", {})
        rows.append(["config, 255 instances × 20 VIPs", "`-t` wall time (process included)", "",
                     f"{o.get('median_ms', 0):.0f} ms ({o.get('max_ms', 0):.0f})",
                     f"{k.get('median_ms', 0):.0f} ms ({k.get('max_ms', 0):.0f})", "-"])
    return rows


HEADER = ["Scenario", "Measure", "Target", "astlinux-ha", "keepalived", "Met"]


def table(rows: list[list[str]], header: list[str] = HEADER) -> str:
    """A Markdown table."""
    lines = [_row(header), _row(["---"] * len(header))]
    lines += [_row(r) for r in rows]
    return "\n".join(lines)


def render(results: dict) -> str:
    """The whole report: the main table, then the mixed pairs."""
    reps = results["settings"]["reps"]
    load = results["machine"].get("loadavg_start")
    busy = f" (load average {load[0]:.2f} at start)" if load else ""
    parts = [f"Benchmarks {results['date']} on {results['machine']['summary']}{busy}; "
             f"cells are median (max) over {reps} repetition{'s' if reps > 1 else ''} "
             f"unless one; MD = RFC master-down interval.", ""]
    rows: list[list[str]] = []
    for key, pairs in results.get("failover", {}).items():
        rows += failover_rows(key, pairs.get("ours", []), pairs.get("keepalived", []))
    if results.get("jitter"):
        rows += jitter_rows(results["jitter"])
    if results.get("scale"):
        rows += scale_rows(results["scale"], results["scale"].get("master_down", 3.61))
    if results.get("config"):
        rows += config_rows(results["config"])
    if results.get("longrun"):
        from .long_run import render as render_kinds
        from .long_run import table_rows as long_run_rows

        rows += long_run_rows(results["longrun"])
    parts.append(table(rows))
    if results.get("longrun"):
        parts += ["", render_kinds(results["longrun"])]
    mixed = results.get("mixed", {})
    if mixed:
        mreps = results["settings"].get("mixed_reps", reps)
        parts += ["", f"Mixed pairs ({mreps} repetition{'s' if mreps > 1 else ''}): "
                  "master ours with keepalived as backup, and the other way round.", ""]
        mrows = []
        for key, pairs in mixed.items():
            mrows += [r[:2] + r[3:5] for r in failover_rows(
                key, pairs.get("M=ours,B=keepalived", []), pairs.get("M=keepalived,B=ours", []),
                judge=False)]
        parts.append(table(mrows, ["Scenario", "Measure", "master ours, backup keepalived",
                                   "master keepalived, backup ours"]))
    return "\n".join(parts) + "\n"
