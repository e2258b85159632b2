"""Shared fixtures: the lab (virtual AstLinux boxes on a switch), see lab/ and lab_plugin.py."""

from lab_plugin import (  # noqa: F401  (pytest finds fixtures and hooks here)
    _lab_session,
    address_host,
    image_lab,
    lab,
    pytest_runtest_makereport,
    pytest_runtest_setup,
    seed_lab,
)
