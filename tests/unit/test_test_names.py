"""Test modules are imported by their base name (no packages under tests/): two files of one
name in different directories break the collection of the whole suite, though each directory
alone runs. Caught here, in the unit tests that every change runs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_two_test_modules_share_a_name():
    files = [*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench" / "tests").rglob("*.py")]
    names = Counter(p.name for p in files if p.name != "__init__.py")
    assert [n for n, count in names.items() if count > 1] == []
