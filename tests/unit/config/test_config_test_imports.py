"""``-t`` reads and checks a config without loading the daemon's I/O stack.

pyroute2 (with asyncio, sqlite3, ssl...) took 130 ms of the 650 ms ``-t`` of a
5000-instance config; only a config with a ``no_accept`` instance needs the network package
(to look for nft), and only then is it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SEED = Path(__file__).resolve().parents[3] / "etc" / "keepalived" / "keepalived.conf.master"
HEAVY = ("pyroute2", "asyncio", "astlinux_ha.net", "astlinux_ha.daemon", "astlinux_ha.runtime")


def _loaded_after_t(conf: Path) -> list[str]:
    """The HEAVY modules a fresh interpreter holds after ``main(['-t', '-f', conf])``."""
    code = (
        "import contextlib, io, json, sys\n"
        "from astlinux_ha.cli import main\n"
        "with contextlib.redirect_stderr(io.StringIO()):\n"
        f"    main(['-t', '-f', {str(conf)!r}])\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    return json.loads(out.stdout)


def test_config_test_leaves_the_io_stack_unloaded() -> None:
    assert _loaded_after_t(SEED) == []


def test_a_no_accept_instance_still_looks_for_nft(tmp_path: Path) -> None:
    # The nft check runs (and loads the network package) once an instance refuses traffic.
    conf = tmp_path / "k.conf"
    conf.write_text(SEED.read_text().replace("priority 100", "no_accept\n    priority 100", 1))
    assert "astlinux_ha.net" in _loaded_after_t(conf)
