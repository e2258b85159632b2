"""What a router installs: the wheel holds the daemon alone, no lab and no test tooling."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_holds_no_lab_and_nothing_that_imports_pytest(tmp_path):
    # A copy of the tree without build/: setuptools' build/lib keeps modules since removed.
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(tmp_path), str(src)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("astlinux_ha-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        modules = [n for n in names if n.endswith(".py")]
        assert modules and all(n.startswith("astlinux_ha/") for n in modules), modules
        assert not [n for n in names if "/lab/" in n or n.startswith(("lab/", "bench/", "tests/"))]
        importing = [n for n in modules if b"pytest" in zf.read(n)]
    assert importing == []
