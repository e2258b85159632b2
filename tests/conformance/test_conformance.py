"""The daemon-level conformance cases in cases/: each directory's events, run through the
real wiring on a virtual clock, must produce exactly its expected channel files.

``CONFORMANCE_WRITE=1 pytest tests/conformance`` writes the files from a run instead (for a
new case); read every line of what it wrote before committing it.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from harness import CHANNELS, Case

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if p.is_dir())
FILES = (*CHANNELS, "status.json")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, tmp_path: Path) -> None:
    got = Case(case, tmp_path).run()
    if os.environ.get("CONFORMANCE_WRITE"):
        for name in FILES:
            (case / name).write_text(got[name])
        return
    for name in FILES:
        want = (case / name).read_text() if (case / name).exists() else "\n"
        if got[name] != want:
            diff = "".join(difflib.unified_diff(
                want.splitlines(True), got[name].splitlines(True), f"expected/{name}",
                f"got/{name}"))
            pytest.fail(f"{case.name}: {name} differs\n{diff}")
