"""keepalived's weight table end to end: priority, FAULT and waiting for a set of tracked scripts.

(These cases used to test a second copy of the rule in astlinux_ha.scripts.track; the daemon's
one rule is astlinux_ha.vrrp.tracking.)
"""

from __future__ import annotations

import pytest

from astlinux_ha.vrrp.tracking import TrackKind, TrackSpec, effective_priority, faults, pending

# (weight, status, reverse) per tracked script -> (priority, in FAULT, waiting for a result)
CASES = [
    (100, [(10, True, False)], (110, False, False)),
    (100, [(10, False, False)], (100, False, False)),
    (100, [(-30, False, False)], (70, False, False)),
    (100, [(-30, True, False)], (100, False, False)),
    (100, [(10, True, True)], (90, False, False)),
    (100, [(-10, False, True)], (110, False, False)),
    (250, [(20, True, False)], (254, False, False)),
    (10, [(-50, False, False)], (1, False, False)),
    (255, [(-50, False, False)], (255, False, False)),
    (100, [(0, False, False)], (100, True, False)),
    (100, [(0, True, True)], (100, True, False)),
    (100, [(0, None, False)], (100, False, True)),
    (100, [(20, None, False)], (100, False, False)),
    (100, [(20, True, False), (-5, False, False), (0, True, False)], (115, False, False)),
]


@pytest.mark.parametrize(("base", "tracked", "expected"), CASES)
def test_weight_rules(base, tracked, expected):
    specs = [TrackSpec(TrackKind.SCRIPT, f"s{i}", w, rev) for i, (w, _, rev) in enumerate(tracked)]
    status = {s.key: up for s, (_, up, _) in zip(specs, tracked, strict=True)}
    outcome = (effective_priority(base, specs, status), bool(faults(specs, status)),
               bool(pending(specs, status)))
    assert outcome == expected
