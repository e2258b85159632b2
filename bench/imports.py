"""What the daemon's imports cost in RSS, and pyroute2's share of it (issue 16's RSS row).

A fresh interpreter imports what ``python -m astlinux_ha`` imports before it runs the daemon
(``astlinux_ha.cli``, then ``astlinux_ha.daemon`` the way the cli does, OpenSSL kept out).
Every module executed from pyroute2's directory is timed in RSS: the growth while an
outermost pyroute2 module runs (with whatever it imports in turn, stdlib included: that memory
is there because of pyroute2) is pyroute2's share. Counting at the loader, not at
``import pyroute2``, follows the daemon however it reaches pyroute2's modules (with or
without the package ``__init__``), and stdlib modules that our code loaded before are not
charged to pyroute2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A name is imported; "module:function" is called too (how the cli imports the daemon).
DAEMON_MODULES = ("astlinux_ha.cli", "astlinux_ha.cli:daemon_module")

PROBE = r"""
import os, sys
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
bare = rss()
import importlib._bootstrap_external as ext
import importlib.util
spec = importlib.util.find_spec("pyroute2")
root = os.path.dirname(spec.origin) + os.sep
state = {"depth": 0, "bytes": 0, "modules": 0, "init": False}
plain = ext._LoaderBasics.exec_module
def exec_module(self, module):
    origin = getattr(module.__spec__, "origin", None) or ""
    if not origin.startswith(root):
        return plain(self, module)
    state["modules"] += 1
    state["init"] = state["init"] or origin == root + "__init__.py"
    state["depth"] += 1
    before = rss() if state["depth"] == 1 else 0
    try:
        return plain(self, module)
    finally:
        state["depth"] -= 1
        if state["depth"] == 0:
            state["bytes"] += rss() - before
ext._LoaderBasics.exec_module = exec_module
hooked = rss()
for name in sys.argv[1:]:
    module, _, call = name.partition(":")
    __import__(module)
    if call:
        getattr(sys.modules[module], call)()
total = rss()
import json
print(json.dumps({"bare": bare, "imports": total - hooked, "pyroute2": state["bytes"],
                  "pyroute2_modules": state["modules"], "package_init": state["init"]}))
"""


def measure(modules: tuple[str, ...] = DAEMON_MODULES, runs: int = 3) -> dict:
    """MiB: ``python`` alone, what importing ``modules`` adds, and pyroute2's part of that;
    the median of ``runs`` fresh interpreters (page-granular RSS moves a little run to run)."""
    got = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True,
                              text=True, cwd=ROOT, timeout=120, check=True)
        got.append(json.loads(proc.stdout))
    got.sort(key=lambda g: g["pyroute2"])
    mid = got[len(got) // 2]
    mib = 2**20
    return {"bare_mib": mid["bare"] / mib, "imports_mib": mid["imports"] / mib,
            "pyroute2_mib": mid["pyroute2"] / mib, "pyroute2_modules": mid["pyroute2_modules"],
            "pyroute2_package_init": mid["package_init"], "modules": list(modules)}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
