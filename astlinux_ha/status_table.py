"""``astlinux-ha --status``: the table ``service keepalived status`` prints from status.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from astlinux_ha.state import STATUS_FILE

COLUMNS = ("instance", "state", "priority", "vips", "master", "since")


def rows(status: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per instance, in name order, from the daemon's status.json contents."""
    out = []
    for name, inst in sorted(status.get("instances", {}).items()):
        prio = str(inst.get("effective_priority", ""))
        if inst.get("priority") != inst.get("effective_priority"):
            prio = f"{inst.get('effective_priority')} ({inst.get('priority')})"
        out.append(
            (
                name,
                str(inst.get("state", "?")),
                prio,
                ",".join(inst.get("vips", [])) or "-",
                str(inst.get("master") or "-"),
                str(inst.get("since", "-")),
            )
        )
    return out


def render(status: dict[str, Any]) -> str:
    """Format the table with aligned columns."""
    table = [tuple(c.upper() for c in COLUMNS), *rows(status)]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table)
    return "\n".join(line.rstrip() for line in lines)


def print_status(state_dir: str, out: TextIO | None = None) -> int:
    """Print the table; 0 when status.json is readable, 3 (LSB "not running") otherwise."""
    path = Path(state_dir) / STATUS_FILE
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"astlinux-ha: cannot read {path}: {exc}", file=sys.stderr)
        return 3
    print(render(status), file=sys.stdout if out is None else out)
    return 0
