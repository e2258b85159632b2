"""Keep OpenSSL out of the daemon's memory: it never speaks TLS (issue 16's RSS row).

Two imports would map libssl and libcrypto (~4 MiB of RSS on Debian, more than everything
200 instances allocate): asyncio imports ``ssl`` whenever it can, for loops that may one day
wrap a socket in TLS, and pyroute2's ``probe_msg`` imports it unconditionally for an SSL probe
that this daemon never sends.

asyncio is written for Pythons built without ``ssl`` (``ssl = None``, and TLS calls raise), so
it is imported while ``ssl`` is blocked. Then ``ssl`` becomes a placeholder module that imports
the real one the first time anyone asks it for a name: pyroute2's bare ``import ssl`` costs
nothing, and code that really uses ssl still gets it (only asyncio's own TLS stays off).

The daemon's hashing needs are the same story one level down: ``hmac``/``hashlib`` load
libcrypto too, so temporary names come from :func:`os.urandom` and only AH imports hmac, when
an AH instance is built (:func:`astlinux_ha.vrrp.ah.load_crypto`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

_FIRST_USE = threading.Lock()  # the reload's config load runs in a thread of its own


class _SslOnFirstUse(types.ModuleType):
    """Stands in for ``ssl`` until a name is looked up on it, then forwards to the real one."""

    def __getattr__(self, name: str) -> object:
        # Only called for names missing from the namespace, i.e. everything ssl defines.
        with _FIRST_USE:
            if sys.modules.get("ssl") is self:
                del sys.modules["ssl"]
            real = importlib.import_module("ssl")
            self.__dict__.update(real.__dict__)
        return getattr(real, name)


def keep_openssl_out() -> bool:
    """Import asyncio without ssl and leave a placeholder for ``ssl``.

    Call before anything imports asyncio. Does nothing (returns False) when asyncio or ssl is
    already imported, as in a test runner, where the placeholder could no longer help.
    """
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        return False
    # The real module's spec (None on a Python built without ssl, where nothing is kept out
    # but asyncio is the same): find_spec("ssl") answers with it while the placeholder stands.
    spec = importlib.util.find_spec("ssl")
    sys.modules["ssl"] = None  # type: ignore[assignment]  # "import ssl" raises ImportError
    try:
        import asyncio  # noqa: F401  (base_events, selector_events and sslproto import ssl)
    finally:
        del sys.modules["ssl"]
    if spec is not None:
        placeholder = _SslOnFirstUse("ssl", "ssl, imported on first use (astlinux_ha.no_tls)")
        placeholder.__spec__ = spec
        sys.modules["ssl"] = placeholder
    return True
