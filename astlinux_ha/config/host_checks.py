"""Checks against this host rather than the text: do the named interfaces exist?

keepalived's ``-t`` reports an instance interface that does not exist. Here it is a warning
(exit code unchanged): the daemon copes with an interface that appears later (the instance
waits in FAULT), and a config checked on one box is often meant for another.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

from .model import Config, Location, Problem, Severity


def _exists(name: str) -> bool:
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def _named_interfaces(config: Config) -> Iterator[tuple[str, str, Location]]:
    """(interface, what names it, where) for every interface the config refers to."""
    for inst in config.instances:
        if inst.interface is not None:
            yield inst.interface, f"vrrp_instance {inst.name}", inst.where
        for track in inst.track_interfaces:
            yield track.name, f"track_interface of {inst.name}", track.where
        for vip in (*inst.virtual_ipaddresses, *inst.virtual_ipaddresses_excluded):
            if vip.device is not None:
                yield vip.device, f"ip address {vip.address}", vip.where


def interface_problems(
    config: Config, exists: Callable[[str], bool] = _exists
) -> tuple[Problem, ...]:
    """A warning for each reference to an interface this host does not have."""
    return tuple(
        Problem(where, Severity.WARNING, f"interface {name} for {what} doesn't exist")
        for name, what, where in _named_interfaces(config)
        if not exists(name)
    )
