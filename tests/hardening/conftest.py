"""tests/hardening: bench/ (the attacker's packets, bench.hostile) is not an installed package;
it is imported from the repo root, as ``make bench`` runs it."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
