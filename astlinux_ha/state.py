"""Runtime state files in the state dir (default /var/state/keepalived).

The daemon owns only its own files there; user scripts share the directory. Writes never raise:
a full tmpfs must not stop VRRP, so each kind of file logs its first failure once, and a failed
status write is retried by :meth:`StateDir.flush` until space returns.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

STATUS_FILE = "status.json"
TRANSITIONS_FILE = "transitions.jsonl"
DATA_FILE = "keepalived.data"
STATS_FILE = "keepalived.stats"

# transitions.jsonl lives on tmpfs; keep it from growing without bound on a flapping link.
TRANSITIONS_MAX_BYTES = 1 << 20


class StateDir:
    """Writes status.json, transitions.jsonl and the signal dumps atomically, never raising."""

    def __init__(self, path: str | os.PathLike[str], logger: logging.Logger) -> None:
        self.path = Path(path)
        self._log = logger
        self._failing: set[str] = set()
        self._pending_status: str | None = None

    def prepare(self) -> None:
        """Create the directory (as ``mkdir -p``) if the init script has not."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._failed("dir", exc)

    def write_status(self, status: dict[str, Any]) -> None:
        """Replace status.json atomically with ``status``."""
        self._pending_status = json.dumps(status, indent=2, sort_keys=True, default=str) + "\n"
        self.flush()

    def flush(self) -> None:
        """Retry a status write that failed earlier (call periodically)."""
        if self._pending_status is None:
            return
        if self._replace(STATUS_FILE, self._pending_status, kind="status"):
            self._pending_status = None

    def append_transition(self, record: dict[str, Any]) -> None:
        """Append one JSON line to transitions.jsonl, rotating it past 1 MiB."""
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        target = self.path / TRANSITIONS_FILE
        try:
            if target.exists() and target.stat().st_size > TRANSITIONS_MAX_BYTES:
                os.replace(target, target.with_name(TRANSITIONS_FILE + ".1"))
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(line)
        except OSError as exc:
            self._failed("transitions", exc)
        else:
            self._recovered("transitions")

    def write_dump(self, name: str, text: str) -> Path | None:
        """Write a SIGUSR1/SIGUSR2 dump atomically; returns its path, or None on failure."""
        if self._replace(name, text, kind=name):
            return self.path / name
        return None

    def _replace(self, name: str, text: str, *, kind: str) -> bool:
        target = self.path / name
        tmp = target.with_name(f".{name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, target)
        except OSError as exc:
            try:
                tmp.unlink()
            except OSError:
                pass
            self._failed(kind, exc)
            return False
        self._recovered(kind)
        return True

    def _failed(self, kind: str, exc: OSError) -> None:
        if kind not in self._failing:
            self._failing.add(kind)
            self._log.error("state dir %s: cannot write %s: %s", self.path, kind, exc.strerror)

    def _recovered(self, kind: str) -> None:
        if kind in self._failing:
            self._failing.discard(kind)
            self._log.info("state dir %s: writing %s again", self.path, kind)
