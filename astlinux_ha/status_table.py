"""``astlinux-ha --status``: the table ``service keepalived status`` prints from status.json.

An admin runs this as root on a terminal, and the state dir is shared with the user's scripts,
so status.json is treated as untrusted input: it is opened without following a symlink (a link
to /etc/shadow must not be printed), only a regular file of at most :data:`MAX_BYTES` is read
(a FIFO would hang the read, a huge file would eat memory), and only one with a single name
and our euid as owner (a hard link to /etc/shadow is neither a symlink nor a non-file), and
every string is printed with its control characters escaped (an instance name carrying ESC
sequences must not reprogram the admin's terminal, a newline must not forge a table row).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, TextIO

from astlinux_ha.state import STATUS_FILE

COLUMNS = ("instance", "state", "priority", "vips", "master", "since")
# The daemon's status.json is a few hundred bytes per instance; 4 MiB is far beyond 255 of them.
MAX_BYTES = 4 * 1024 * 1024
EXIT_NOT_RUNNING = 3  # LSB "program is not running": no readable status

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class StatusFileError(Exception):
    """status.json cannot be read safely (a symlink, not a regular file, too large...)."""


def escape(text: str) -> str:
    """``text`` with every non-printable character as a Python-style escape (``\\x1b``,
    ``\\n``, ``\\u202e``) and backslashes doubled, so what is printed is exactly what is
    shown: no terminal control sequence, no line break, no bidi override. Printable Unicode
    (accents, CJK) stays as it is."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable():
            out.append(ch)
        else:
            # repr() gives \n, \t, \x1b, \u202e, \U000e0001 for exactly these characters.
            out.append(repr(ch)[1:-1])
    return "".join(out)


def _text(value: Any) -> str:
    return escape(value if isinstance(value, str) else str(value))


def rows(status: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per instance, in name order, from the daemon's status.json contents; every
    cell escaped, whatever type the file put there."""
    instances = status.get("instances", {})
    if not isinstance(instances, dict):
        return []
    out: list[tuple[str, ...]] = []
    for name, inst in sorted(instances.items()):
        if not isinstance(inst, dict):
            inst = {}
        prio = _text(inst.get("effective_priority", ""))
        if inst.get("priority") != inst.get("effective_priority"):
            prio = f"{prio} ({_text(inst.get('priority'))})"
        vips = inst.get("vips", [])
        if not isinstance(vips, list):
            vips = [vips]
        out.append(
            (
                _text(name),
                _text(inst.get("state", "?")),
                prio,
                ",".join(_text(v) for v in vips) or "-",
                _text(inst.get("master") or "-"),
                _text(inst.get("since", "-")),
            )
        )
    return out


# A config with hundreds of bad lines still gives a status that fits a screen.
PROBLEMS_SHOWN = 5


def render(status: dict[str, Any]) -> str:
    """Format the table with aligned columns, then what the running config's check found
    (it runs with the bad parts dropped, so an admin must hear of them here too)."""
    table = [tuple(c.upper() for c in COLUMNS), *rows(status)]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    problems = status.get("problems")
    if isinstance(problems, list) and problems:
        lines.append("")
        lines.append(f"{len(problems)} configuration problem(s); the running config has the "
                     "bad parts dropped (all of them in syslog):")
        lines += [f"  {_text(p)}" for p in problems[:PROBLEMS_SHOWN]]
        if len(problems) > PROBLEMS_SHOWN:
            lines.append(f"  ... and {len(problems) - PROBLEMS_SHOWN} more")
    return "\n".join(line.rstrip() for line in lines)


def read_bounded(path: str | os.PathLike[str], limit: int = MAX_BYTES) -> bytes:
    """The bytes of regular file ``path``, at most ``limit`` of them; raises StatusFileError
    for a symlink, anything but a regular file, a hard link, a file not owned by our euid,
    or a larger file, OSError otherwise."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StatusFileError("is a symbolic link; not followed") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StatusFileError("is not a regular file")
        # The daemon writes status.json by rename of a fresh file of its own: one name, our
        # uid. A second name is a hard link someone made in the shared state dir to a file
        # we may read and they may not (root's /etc/shadow, with protected_hardlinks off);
        # another owner is a file someone planted there.
        if st.st_nlink != 1:
            raise StatusFileError("is a hard link (has other names); not read")
        if st.st_uid != os.geteuid():
            raise StatusFileError(f"is owned by uid {st.st_uid}, not {os.geteuid()}; not read")
        if st.st_size > limit:
            raise StatusFileError(f"is larger than {limit} bytes")
        # Read one byte past the limit: a file still growing is caught too.
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise StatusFileError(f"is larger than {limit} bytes")
    return data


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """status.json's contents as a dict; raises StatusFileError, OSError or ValueError."""
    status = json.loads(read_bounded(path).decode("utf-8"))
    if not isinstance(status, dict):
        raise StatusFileError("does not hold a JSON object")
    return status


def print_status(state_dir: str, out: TextIO | None = None) -> int:
    """Print the table; 0 when status.json is readable, 3 (LSB "not running") otherwise,
    with one line on stderr saying why."""
    path = Path(state_dir) / STATUS_FILE
    try:
        status = load(path)
    except (StatusFileError, OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        # One line whatever the reason: the init script shows only the last line.
        print(f"astlinux-ha: cannot read {escape(str(path))}: {escape(reason)}",
              file=sys.stderr)
        return EXIT_NOT_RUNNING
    print(render(status), file=sys.stdout if out is None else out)
    return 0
