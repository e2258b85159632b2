"""Virtual AstLinux boxes on a virtual switch (placeholder; documented below once complete)."""
from .lab import Lab, sweep  # noqa: F401
