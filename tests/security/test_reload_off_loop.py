"""Issue 13: a config that is slow to read (a reload with a 2 MiB file, say) must not stop
the adverts while it loads: the parse runs off the event loop, and a config that cannot run
is refused with the running one kept.
"""

from __future__ import annotations

import signal
import time

import pytest
from attacks import KD, solo_conf, start, wait_log, wait_state

pytestmark = [pytest.mark.root]

ADVERT_INT = 0.1


def slow_config() -> str:
    """The running config plus an instance of ~90 000 VIPs ending in a `state` without its
    value: about a second of parsing on these machines, then "cannot run" (keepalived 2.4.3
    refuses a keyword without its value)."""
    vips = "".join(f"        10.{i >> 16}.{(i >> 8) & 255}.{i & 255}/32\n"
                   for i in range(1, 90000))
    return solo_conf() + ("vrrp_instance VI_2 {\n    interface eth0\n"
                          "    virtual_router_id 51\n"
                          "    virtual_ipaddress {\n" + vips + "    }\n    state\n}\n")


def test_adverts_keep_their_interval_while_a_reload_parses(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    proc = start(box, solo_conf())
    wait_state(box, "MASTER")
    box.write(f"{KD}/keepalived.conf", slow_config())
    with lab.capture() as cap:
        proc.send_signal(signal.SIGHUP)
        wait_log(proc, "keeping the running configuration", 30)
        time.sleep(0.5)  # adverts after the load too
    times = [p.time for p in cap.packets() if p.src == "10.10.50.62"]
    assert len(times) > 5, "the capture saw the master's adverts"
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Parsed on the loop, the gap was the whole parse (~1 s). In a thread, the loop gets the
    # GIL back within Python's 5 ms switch interval: late by a few ms, never an advert
    # skipped.
    assert max(gaps) < 1.5 * ADVERT_INT, f"longest gap {max(gaps) * 1000:.0f} ms"
    assert "is missing a parameter after keyword 'state'" in proc.log_text()
    assert proc.alive()
