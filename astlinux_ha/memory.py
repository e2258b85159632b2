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

The cyclic garbage collector: every message pyroute2 decodes, and each of its nested
attributes, refers to itself (``nlmsg_base.chain = [self]``), so only the cyclic collector
frees them, with the datagram each one keeps. The ones still alive at two young collections
(decoded during a burst of link events) reach the oldest generation, which CPython sweeps only
once it has grown by a quarter: ~400 cable pulls in a daemon with the seed config, ~3 KiB of
RSS per pull until then (issue 9). A full collection of the daemon's ~40 000 objects takes
20-60 ms, too long for the loop right after a takeover; frozen after start-up and each
reload (:func:`settle_heap`), the long-lived objects are skipped and a full collection of
what is left after a change (:func:`tidy_after_change`) takes ~0.1 ms.
"""

from __future__ import annotations

import ctypes
import gc
import sys


def _clear_cache_api():
    try:
        api = ctypes.pythonapi.PyType_ClearCache
    except (AttributeError, OSError):
        return None
    api.restype = ctypes.c_uint
    api.argtypes = []
    return api


# pythonapi functions keep the GIL for the call.
_clear_cache = _clear_cache_api()


def clear_type_cache() -> bool:
    """Empty CPython's type attribute cache (``PyType_ClearCache``); True when done.

    It only drops cached lookups: types keep their version tags, so specialized bytecode stays
    valid. A no-op (False) on an interpreter without it.
    """
    if _clear_cache is not None:
        _clear_cache()
        return True
    clear = getattr(sys, "_clear_type_cache", None)
    if clear is None:
        return False
    clear()
    return True


def settle_heap() -> None:
    """After start-up or a reload: free what the old configuration left, then freeze the rest.

    Unfreezing first lets a replaced runtime, frozen at the previous settle, be collected.
    One full collection (tens of ms), only at start and reload.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def tidy_after_change() -> None:
    """After a transition or link event: release the type cache's names and the cyclic
    garbage (pyroute2's messages) the change left, before it reaches the oldest generation."""
    clear_type_cache()
    gc.collect()
