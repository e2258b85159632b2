"""``python -m astlinux_ha``: the same command line as ``astlinux-ha``."""

import sys

from astlinux_ha.cli import main

sys.exit(main())
