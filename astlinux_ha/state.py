"""Runtime state files in the state dir (default /var/state/keepalived).

The daemon owns only its own files there; user scripts share the directory, which an admin may
make group-writable for a non-root ``script_user``. So every write goes through
:mod:`astlinux_ha.safefile`: the directory is opened without following a symlink and must be
ours, files are replaced through random temporary names with an explicit mode, and the journal
is appended to only while it is our own regular file. Writes never raise: a full tmpfs (or a
directory someone tampered with) must not stop VRRP, so each kind of file logs its first
failure once, and a failed status write is retried by :meth:`StateDir.flush` until it lands.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from astlinux_ha import safefile

STATUS_FILE = "status.json"
TRANSITIONS_FILE = "transitions.jsonl"
DATA_FILE = "keepalived.data"
STATS_FILE = "keepalived.stats"

# Admins, scripts and the web interface read status and journal; the dumps hold the whole
# running config (peers, auth_pass), so only root reads them, as keepalived's.
PUBLIC_MODE = 0o644
DUMP_MODE = 0o600
DIR_MODE = 0o755

# transitions.jsonl lives on tmpfs; keep it from growing without bound on a flapping link.
TRANSITIONS_MAX_BYTES = 1 << 20


class StateDir:
    """Writes status.json, transitions.jsonl and the signal dumps safely, never raising."""

    def __init__(self, path: str | os.PathLike[str], logger: logging.Logger) -> None:
        self.path = Path(path)
        self._log = logger
        self._failing: set[str] = set()
        self._pending_status: str | None = None

    def prepare(self) -> None:
        """Create the directory (0755, as ``mkdir -p``) if the init script has not."""
        try:
            os.close(safefile.open_dir(self.path, create_mode=DIR_MODE))
        except OSError as exc:
            self._failed("dir", exc)

    def write_status(self, status: dict[str, Any]) -> None:
        """Replace status.json atomically with ``status``: one line of JSON, keys sorted."""
        # No indent: an indented dump runs json's pure-Python encoder, ~5x the C one's time
        # (6.8 ms against 1.4 ms with 200 instances, every few seconds); every reader parses it.
        self._pending_status = json.dumps(status, separators=(",", ":"), sort_keys=True,
                                          default=str) + "\n"
        self.flush()

    def flush(self) -> None:
        """Retry a status write that failed earlier (call periodically)."""
        if self._pending_status is None:
            return
        if self._replace(STATUS_FILE, self._pending_status, PUBLIC_MODE, kind="status"):
            self._pending_status = None

    def append_transition(self, record: dict[str, Any]) -> None:
        """Append one JSON line to transitions.jsonl, rotating it past 1 MiB."""
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        try:
            dfd = self._open_dir()
            try:
                if safefile.size(dfd, TRANSITIONS_FILE) > TRANSITIONS_MAX_BYTES:
                    safefile.rename(dfd, TRANSITIONS_FILE, TRANSITIONS_FILE + ".1")
                fd = safefile.open_append(dfd, TRANSITIONS_FILE, PUBLIC_MODE)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
            finally:
                os.close(dfd)
        except OSError as exc:
            self._failed("transitions", exc)
        else:
            self._recovered("transitions")

    def write_dump(self, name: str, text: str) -> Path | None:
        """Write a SIGUSR1/SIGUSR2 dump (mode 0600); returns its path, or None on failure."""
        if self._replace(name, text, DUMP_MODE, kind=name):
            return self.path / name
        return None

    def _open_dir(self) -> int:
        # Opened again for every write: a directory the admin re-created is picked up, and a
        # directory swapped for a symlink since the last write is refused.
        return safefile.open_dir(self.path)

    def _replace(self, name: str, text: str, mode: int, *, kind: str) -> bool:
        try:
            dfd = self._open_dir()
            try:
                safefile.replace(dfd, name, text.encode(), mode)
            finally:
                os.close(dfd)
        except OSError as exc:
            self._failed(kind, exc)
            return False
        self._recovered(kind)
        return True

    def _failed(self, kind: str, exc: OSError) -> None:
        if kind not in self._failing:
            self._failing.add(kind)
            self._log.error("state dir %s: cannot write %s: %s", self.path, kind,
                            exc.strerror or exc)

    def _recovered(self, kind: str) -> None:
        if kind in self._failing:
            self._failing.discard(kind)
            self._log.info("state dir %s: writing %s again", self.path, kind)
