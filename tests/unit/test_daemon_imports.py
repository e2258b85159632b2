"""What the daemon's process loads, and what it keeps out (issue 16's memory floor).

python-daemon only when it forks (``-n``, as the lab and AstLinux's supervision run it, never
does); only the pyroute2 it uses, without the package ``__init__``; no OpenSSL (no_tls).

Each check runs in a fresh interpreter: the test process itself has imported all of pyroute2
long before (the lab's tooling uses its IPRoute), and sys.modules only ever grows.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "astlinux_ha"

# What pyroute2's package __init__ drags in and the daemon never calls. (ssl is kept out
# another way: astlinux_ha.no_tls.)
HEAVY = ("pyroute2.ndb", "pyroute2.ipdb", "pyroute2.ipset", "pyroute2.nftables",
         "pyroute2.plan9", "sqlite3")


def fresh(code: str, *flags: str) -> object:
    """Run ``code`` in a new interpreter (with ``flags``); it prints one JSON value, returned
    here."""
    proc = subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_daemon_module_leaves_python_daemon_to_the_fork() -> None:
    got = fresh("import json, sys; import astlinux_ha.daemon; "
                "print(json.dumps(sorted(m for m in ('daemon', 'daemon.daemon', 'psutil') "
                "if m in sys.modules)))")
    assert got == []


def test_the_daemons_modules_do_not_load_pyroute2s_package_init() -> None:
    got = fresh(
        "import json, sys\n"
        "import astlinux_ha.cli, astlinux_ha.daemon, astlinux_ha.supervisor\n"
        "from pyroute2.iproute.linux import AsyncIPRoute\n"
        "from astlinux_ha.net import netlink\n"
        f"print(json.dumps({{'loaded': [m for m in {HEAVY!r} if m in sys.modules],\n"
        "    'same_class': netlink.AsyncIPRoute is AsyncIPRoute}))\n")
    assert got == {"loaded": [], "same_class": True}


def test_pyroute2_stays_whole_for_code_that_asks_for_more() -> None:
    # The lab's tooling shares an interpreter with the daemon's modules in the tests.
    got = fresh(
        "import json, sys\n"
        "import astlinux_ha.net\n"
        "from pyroute2 import config\n"
        "before = 'pyroute2.ndb' in sys.modules\n"
        "from pyroute2 import IPRoute, NDB\n"
        "from pyroute2.iproute.linux import IPRoute as linux_IPRoute\n"
        "print(json.dumps({'before': before, 'after': 'pyroute2.ndb' in sys.modules,\n"
        "    'config': config is sys.modules['pyroute2.config'],\n"
        "    'same': IPRoute is linux_IPRoute}))\n")
    assert got == {"before": False, "after": True, "config": True, "same": True}


def test_a_real_pyroute2_imported_first_is_used_as_it_is() -> None:
    got = fresh(
        "import json, pyroute2\n"
        "from astlinux_ha.net import pyroute2_lite\n"
        "print(json.dumps(pyroute2_lite.AsyncIPRoute is pyroute2.AsyncIPRoute))\n")
    assert got is True


def test_only_pyroute2_lite_imports_pyroute2() -> None:
    # Any other module importing pyroute2 first, at any depth, runs the whole package __init__.
    direct = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "pyroute2_lite.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            direct += [f"{path.relative_to(PACKAGE)}: {n}" for n in names
                       if n == "pyroute2" or n.startswith("pyroute2.")]
    assert direct == []


def test_the_daemons_asyncio_has_no_tls_and_ssl_still_loads_on_use() -> None:
    got = fresh(
        "import json, sys\n"
        "from astlinux_ha import no_tls\n"
        "first = no_tls.keep_openssl_out()\n"
        "import astlinux_ha.daemon, astlinux_ha.supervisor\n"
        "from astlinux_ha.net import netlink\n"  # pyroute2's probe_msg: a bare `import ssl`
        "import asyncio, asyncio.base_events\n"
        "mapped = lambda: 'libcrypto' in open('/proc/self/maps').read()\n"
        "before = mapped()\n"
        "loop_works = asyncio.run(asyncio.sleep(0, 'ok'))\n"
        "import ssl\n"
        "context = type(ssl.create_default_context()).__name__\n"
        "print(json.dumps([first, before, asyncio.base_events.ssl is None, loop_works,\n"
        "                  context, mapped(), no_tls.keep_openssl_out()]))\n")
    # Nothing mapped until ssl is really used; then the real module answers (the placeholder
    # forwards), while asyncio keeps its TLS off; a second call changes nothing.
    assert got == [True, False, True, "ok", "SSLContext", True, False]


def test_keeping_openssl_out_is_a_no_op_once_asyncio_is_imported() -> None:
    got = fresh("import json, asyncio\nfrom astlinux_ha import no_tls\n"
                "print(json.dumps([no_tls.keep_openssl_out(),\n"
                "                  asyncio.base_events.ssl is not None]))\n")
    assert got == [False, True]


def test_ssl_placeholder_under_oo_and_a_race_on_first_use() -> None:
    # -OO strips docstrings (embedded builds do); twenty threads then ask for ssl at once,
    # as the reload's config thread and the loop could: one real module, no error.
    got = fresh(
        "import json, sys, threading, importlib.util\n"
        "from astlinux_ha import no_tls\n"
        "no_tls.keep_openssl_out()\n"
        "import ssl as placeholder\n"
        "spec = importlib.util.find_spec('ssl').name\n"
        "barrier, seen = threading.Barrier(20), []\n"
        "def use():\n"
        "    barrier.wait()\n"
        "    seen.append(placeholder.CERT_REQUIRED)\n"
        "threads = [threading.Thread(target=use) for _ in range(20)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "import ssl\n"
        "print(json.dumps([spec, len(seen), len(set(seen)), ssl is not placeholder,\n"
        "                  placeholder.SSLContext is ssl.SSLContext]))\n", "-OO")
    assert got == ["ssl", 20, 1, True, True]
