"""CPU and memory of a process tree (a daemon and its children), for benches and attacks."""

from __future__ import annotations

import psutil


def tree(pid: int) -> list[psutil.Process]:
    try:
        top = psutil.Process(pid)
        return [top] + top.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each process in the tree, plus the top process's reaped
    children (under key -1)."""
    out: dict[int, float] = {}
    for proc in tree(pid):
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system
            if proc.pid == pid:
                out[-1] = t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return out


def memory(pid: int) -> dict[str, float]:
    """RSS and PSS of the tree, MiB."""
    rss = pss = 0
    for proc in tree(pid):
        try:
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        except psutil.NoSuchProcess:
            pass
    return {"rss_mib": rss / 2**20, "pss_mib": pss / 2**20, "processes": len(tree(pid))}
