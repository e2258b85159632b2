"""Keeping a long-running daemon's heap flat: CPython's type attribute cache.

CPython caches attribute lookups on types in a table of 4096 entries, keyed by the *address* of
the name string, and each entry holds a strong reference to that string. A name built at run
time is a new string every time, so every such lookup can park one more string in the table
until its slot is reused: pyroute2 builds ``f"get_{field}"`` / ``f"set_{key}"`` names for
each request (~10 per VIP add or remove), and C code that looks methods up by a C string
(``datetime.now(UTC)``'s ``utcoffset``, for every timestamp) does the same. Each parked string
is small, but it was allocated among short-lived objects and pins a whole 16 KiB pymalloc pool
(issue 9: ~0.5 KiB of live strings per cable pull kept growing RSS by ~2-5 KiB per pull long
after the warm-up, until the table would fill). Clearing the table now and then releases them;
the table refills with the hot names on the next lookups (a few microseconds).
"""

from __future__ import annotations

import ctypes
import sys


def clear_type_cache() -> bool:
    """Empty CPython's type attribute cache (``PyType_ClearCache``); True when done.

    It only drops cached lookups: types keep their version tags, so specialized bytecode stays
    valid. A no-op (False) on an interpreter without it.
    """
    try:
        api = ctypes.pythonapi.PyType_ClearCache
    except (AttributeError, OSError):
        clear = getattr(sys, "_clear_type_cache", None)
        if clear is None:
            return False
        clear()
        return True
    api.restype = ctypes.c_uint
    api.argtypes = []
    api()
    return True
