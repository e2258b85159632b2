"""-t's exit code from the worst problem: 4 cannot run, then 6 security, then 5 errors."""

from __future__ import annotations

import pytest

from astlinux_ha.config import exit_code
from astlinux_ha.problems import Location, Problem, Severity

W, E, F, S = Severity.WARNING, Severity.ERROR, Severity.FATAL, Severity.SECURITY


def problems(*severities: Severity) -> list[Problem]:
    return [Problem(Location("k.conf", n), s, "x") for n, s in enumerate(severities, 1)]


@pytest.mark.parametrize(
    ("severities", "code"),
    [
        ((), 0),
        ((W,), 0),
        ((W, E), 5),
        ((E, S), 6),  # keepalived: a security violation outranks config errors
        ((S, E, W), 6),
        ((E, F), 4),
        ((S, F), 4),
    ],
)
def test_exit_code(severities: tuple[Severity, ...], code: int) -> None:
    assert exit_code(problems(*severities)) == code
