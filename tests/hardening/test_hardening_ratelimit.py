"""Bad-packet log lines under a flood: one line per reason and source per window, then one
summary line with the count held back, even when the flood has stopped."""

from __future__ import annotations

import ipaddress
import logging

from astlinux_ha.instance import BAD_PACKET_LOG_INTERVAL, InstanceRunner
from astlinux_ha.vrrp.ratelimit import RateLimiter
from astlinux_ha.vrrp.receive import Reason


class _Shared:
    def __init__(self, log: logging.Logger) -> None:
        self.log = log


def test_a_flood_logs_one_line_then_one_summary_with_the_suppressed_count(caplog):
    runner = InstanceRunner.__new__(InstanceRunner)  # only the logging half is exercised
    runner.name = "VI_1"
    runner.shared = _Shared(logging.getLogger("hardening.ratelimit"))
    runner._limiter = RateLimiter(BAD_PACKET_LOG_INTERVAL)
    src = ipaddress.IPv4Address("10.10.50.99")
    with caplog.at_level(logging.WARNING, logger="hardening.ratelimit"):
        for i in range(50_000):  # 5 s at 10 000 packets/s
            runner._log_limited((Reason.UNICAST_SRC, src), "bad", 100.0 + i / 10_000)
        runner.log_suppressed(105.0)  # the window is still open: nothing yet
        runner.log_suppressed(100.0 + BAD_PACKET_LOG_INTERVAL)
        runner.log_suppressed(200.0 + BAD_PACKET_LOG_INTERVAL)  # reported once only
    assert [r.getMessage() for r in caplog.records] == [
        "bad",
        f"(VI_1) 49999 similar messages suppressed in the last {BAD_PACKET_LOG_INTERVAL:g} s: "
        "unicast source from 10.10.50.99",
    ]
