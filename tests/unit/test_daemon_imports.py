"""What the daemon's process imports before its instances start (issue 16): python-daemon
only when it forks (``-n``, as the lab and AstLinux's supervision run it, never does)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_daemon_module_leaves_python_daemon_to_the_fork() -> None:
    code = ("import json, sys; import astlinux_ha.daemon; "
            "print(json.dumps(sorted(m for m in ('daemon', 'daemon.daemon', 'psutil') "
            "if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert json.loads(proc.stdout) == []
