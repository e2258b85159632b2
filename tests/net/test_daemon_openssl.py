"""A running daemon maps no OpenSSL unless a config asks for AH (astlinux_ha.no_tls, issue 16:
libssl and libcrypto were ~4 MiB of a 35 MiB daemon that never speaks TLS).

The daemon is started the way the init script does (``-f``, here ``-n`` to keep it in the
lab's hands), taken to MASTER, and its mappings are read from /proc/PID/maps. The AH start is
the other side of the same check: there libcrypto has to be mapped (imported when the AH
instance is built) and the instance still becomes master; tests/interop/test_ah.py checks its
signed adverts against keepalived's.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from lab import daemons
from lab.box import wait_until

pytestmark = [pytest.mark.root]

SEED = Path(__file__).resolve().parents[2] / "etc" / "keepalived" / "keepalived.conf.master"
DAEMON = [sys.executable, "-m", "astlinux_ha", "-f", daemons.CONF, "-n", "-l"]
AUTH = "authentication {\n        auth_type AH\n        auth_pass secret12\n    }"


def openssl_maps(pid: int) -> set[str]:
    """The OpenSSL libraries mapped into ``pid``, by file name."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {Path(line.split()[-1]).name.split(".so")[0] for line in maps.splitlines()
            if re.search(r"/lib(ssl|crypto)\.so", line)}


def run_to_master(lab, text: str) -> set[str]:
    box = lab.add_box("ssl", "10.10.50.62/24")  # the seed master's unicast_src_ip
    daemons.install_config(box, text)
    proc = box.spawn(DAEMON, name="astlinux-ha")
    try:
        # AH starts as a backup (it must learn the sequence number): master after ~3.6 s.
        assert wait_until(lambda: "(VI_1) Entering MASTER STATE" in proc.log_text()
                          or not proc.alive(), 20), proc.log_text()
        assert proc.alive(), proc.log_text()
        return openssl_maps(proc.pid)
    finally:
        proc.stop()


def test_a_master_without_ah_maps_no_openssl(lab):
    assert run_to_master(lab, SEED.read_text()) == set()


def test_an_ah_master_maps_libcrypto(lab):
    text, count = re.subn(r"(?m)^(\s*)advert_int 1\s*$", rf"\g<1>advert_int 1\n\g<1>{AUTH}",
                          SEED.read_text())
    assert count == 1
    assert "libcrypto" in run_to_master(lab, text)
