"""The few pyroute2 names the daemon uses, without pyroute2's package ``__init__``.

``import pyroute2`` (and so ``from pyroute2.netlink... import x``, which runs the package first)
executes ``pyroute2/__init__.py``, which imports every API the library has: NDB with sqlite3,
IPDB, IPVS, nl80211, WireGuard, plan9, ... ~7 MiB of RSS and ~90 more modules that a VRRP daemon
never calls (issue 16). Only the rtnetlink client (:class:`AsyncIPRoute`), its error type and a
few constants are needed here, and their own modules import none of the rest.

So, unless something already imported pyroute2 for real, a bare module object for the package
is registered first: the same spec and ``__path__`` as the real one (submodules resolve from the
installed directory as usual), with its ``__init__`` not run. That ``__init__`` still runs, once
and in place, the first time code asks the package itself for a name that is not a submodule
(``from pyroute2 import IPRoute``, as the lab's tooling does in the same interpreter as the
tests), so pyroute2 stays whole for everyone else; the daemon never asks.

Import pyroute2's names from here, not from ``pyroute2`` directly: the bare package has to be
in place before the first pyroute2 import of the process.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.abc imports importlib.resources, tempfile, shutil, lzma...
    import importlib.abc


def _complete(package: types.ModuleType, loader: importlib.abc.Loader) -> None:
    """Give the bare ``package`` a ``__getattr__`` that runs the real ``__init__`` on demand."""

    def __getattr__(name: str) -> object:
        if name.startswith("__"):
            # Probes such as __all__ or __version__ by a tool must not load the whole library.
            raise AttributeError(name)
        if importlib.machinery.PathFinder.find_spec(name, package.__path__) is not None:
            # A submodule (`from pyroute2 import config`): the import system loads just that.
            return importlib.import_module(f"{package.__name__}.{name}")
        del package.__dict__["__getattr__"]
        loader.exec_module(package)
        return getattr(package, name)

    # A module's __getattr__ is looked up in its namespace (PEP 562).
    package.__dict__["__getattr__"] = __getattr__


def _bare_package() -> None:
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        raise ImportError("pyroute2 is not installed", name="pyroute2")
    package = importlib.util.module_from_spec(spec)
    _complete(package, spec.loader)
    sys.modules["pyroute2"] = package


_bare_package()

# Below the registration on purpose: these are what it is for.
from pyroute2.iproute.linux import AsyncIPRoute  # noqa: E402
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.rtnl import (  # noqa: E402
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_IPV6_IFADDR,
    RTMGRP_IPV6_ROUTE,
    RTMGRP_LINK,
)

__all__ = [
    "RTMGRP_IPV4_IFADDR",
    "RTMGRP_IPV4_ROUTE",
    "RTMGRP_IPV6_IFADDR",
    "RTMGRP_IPV6_ROUTE",
    "RTMGRP_LINK",
    "AsyncIPRoute",
    "NetlinkError",
]
