"""The lowest versions setup.cfg allows, as pins: what `make test-floor` installs and checks.

    python tests/floor/pins.py            one `name==floor` per runtime requirement
    python tests/floor/pins.py --check    exit 1 unless exactly those versions are installed
    python tests/floor/pins.py --extra test   the [test] extra's requirements, as written

The pins are read from install_requires, so lowering a floor in setup.cfg is all it takes for
the floor run to try the new one; a requirement without a `>=` floor is an error, since then
there would be nothing to pin. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import configparser
import re
import sys
from importlib import metadata
from pathlib import Path

SETUP_CFG = Path(__file__).resolve().parents[2] / "setup.cfg"
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$")


def floors(setup_cfg: Path = SETUP_CFG) -> dict[str, str]:
    """``{distribution: lowest allowed version}`` from setup.cfg's install_requires."""
    cfg = configparser.ConfigParser()
    cfg.read_string(setup_cfg.read_text())
    found: dict[str, str] = {}
    for line in cfg.get("options", "install_requires").splitlines():
        if not line.strip():
            continue
        match = _REQ.match(line)
        if match is None:
            raise ValueError(f"setup.cfg: cannot read requirement {line!r}")
        name, spec = match.groups()
        lows = [s.strip()[2:].strip() for s in spec.split(",") if s.strip().startswith(">=")]
        if len(lows) != 1:
            raise ValueError(f"setup.cfg: {name} has no single '>=' floor ({spec!r})")
        found[name] = lows[0]
    return found


def extra(name: str, setup_cfg: Path = SETUP_CFG) -> list[str]:
    """The requirements of extra ``name`` as setup.cfg writes them (the test tools)."""
    cfg = configparser.ConfigParser()
    cfg.read_string(setup_cfg.read_text())
    return [line.strip() for line in cfg.get("options.extras_require", name).splitlines()
            if line.strip()]


def mismatches(wanted: dict[str, str]) -> list[str]:
    """Requirements whose installed version is not exactly the floor (or that are missing)."""
    wrong = []
    for name, version in wanted.items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed, floor {version}")
            continue
        if _norm(have) != _norm(version):
            wrong.append(f"{name}: {have} installed, floor {version}")
    return wrong


def _norm(version: str) -> tuple[int, ...]:
    # PEP 440 pads with zeros: 5.9 == 5.9.0.
    parts = [int(p) for p in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def main(argv: list[str]) -> int:
    wanted = floors()
    if argv[1:] == ["--check"]:
        wrong = mismatches(wanted)
        for line in wrong:
            print(f"floor venv: {line}", file=sys.stderr)
        return 1 if wrong else 0
    if len(argv) == 3 and argv[1] == "--extra":
        print("\n".join(extra(argv[2])))
        return 0
    if argv[1:]:
        print("usage: pins.py [--check | --extra NAME]", file=sys.stderr)
        return 2
    for name, version in wanted.items():
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
