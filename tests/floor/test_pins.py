"""tests/floor/pins.py: the floors `make test-floor` pins are exactly setup.cfg's."""

from __future__ import annotations

from importlib import metadata

import pins
import pytest


def cfg(tmp_path, requires: str):
    path = tmp_path / "setup.cfg"
    path.write_text("[options]\ninstall_requires =\n" + requires
                    + "\n[options.extras_require]\ntest =\n    pytest>=8\n    ruff\n")
    return path


def test_floors_are_the_lower_bounds_of_install_requires(tmp_path):
    path = cfg(tmp_path, "    pyroute2>=0.9.4,<0.10\n    psutil >= 5.9.0\n    python-daemon>=2.3.2")
    assert pins.floors(path) == {"pyroute2": "0.9.4", "psutil": "5.9.0",
                                 "python-daemon": "2.3.2"}
    assert pins.extra("test", path) == ["pytest>=8", "ruff"]


@pytest.mark.parametrize("requirement", ["    pyroute2", "    pyroute2<0.10",
                                         "    pyroute2==0.9.4"])
def test_a_requirement_without_a_floor_is_refused(tmp_path, requirement):
    # Nothing to pin: the floor run would silently test whatever pip picked.
    with pytest.raises(ValueError, match="no single '>=' floor"):
        pins.floors(cfg(tmp_path, requirement))


def test_the_project_declares_a_floor_for_every_runtime_requirement():
    assert set(pins.floors()) == {"pyroute2", "psutil", "python-daemon"}


def test_check_names_every_version_that_is_not_the_floor(monkeypatch):
    installed = {"a": "1.0.0", "b": "2.1"}

    def version(name):
        if name not in installed:
            raise metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(pins.metadata, "version", version)
    assert pins.mismatches({"a": "1.0", "b": "2.0", "c": "3"}) == [
        "b: 2.1 installed, floor 2.0", "c: not installed, floor 3"]
