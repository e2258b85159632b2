"""Issue 9's long run: what keeps the daemon's RSS flat over many failovers."""

from __future__ import annotations

import platform

import pytest

from astlinux_ha import daemon


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_mmap_threshold_is_fixed_on_glibc():
    assert daemon.steady_malloc() is True
