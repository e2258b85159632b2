"""One PNG: the client's outage per scenario, ours beside keepalived's (median bar, max tick)."""

from __future__ import annotations

from pathlib import Path

from lab.stats import summary

from .configs import VARIANT


def outage_plot(results: dict, path: Path) -> Path | None:
    """Write the plot to ``path``; None (and nothing written) without matplotlib or data."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    groups, ours, theirs = [], [], []
    for key, pairs in results.get("failover", {}).items():
        for metric, name in (("pull_outage", "cable pull"), ("stop_outage", "graceful stop")):
            groups.append(f"{VARIANT[key].label}\n{name}")
            ours.append(summary([r.get(metric) for r in pairs.get("ours", [])]))
            theirs.append(summary([r.get(metric) for r in pairs.get("keepalived", [])]))
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(max(8, 1.5 * len(groups)), 5.5))
    width = 0.38
    for offset, data, name, color in ((-width / 2, ours, "astlinux-ha", "#1f77b4"),
                                      (width / 2, theirs, "keepalived", "#ff7f0e")):
        xs = [i + offset for i in range(len(groups))]
        med = [(s["median"] or 0) * 1000 for s in data]
        top = [(s["max"] or 0) * 1000 for s in data]
        ax.bar(xs, med, width, label=f"{name} (median; tick = max)", color=color)
        ax.errorbar(xs, med, yerr=[[0] * len(med), [t - m for t, m in zip(top, med,
                                                                         strict=True)]],
                    fmt="none", ecolor="black", capsize=3, linewidth=0.8)
        for x, m in zip(xs, med, strict=True):
            ax.annotate(f"{m:.0f}" if m >= 100 else f"{m:.1f}", (x, max(m, 1)),
                        ha="center", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("client outage, ms (ping every 10 ms; log scale)")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_title(f"Client outage per scenario: astlinux-ha vs keepalived ({results['date']}, "
                 f"{results['settings']['reps']} reps)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
