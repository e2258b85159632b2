"""The per-instance plan now lives in :mod:`astlinux_ha.runtime.plan`; this name stays for the
modules and tests that still import it from here (instance.py among them)."""

from astlinux_ha.runtime.plan import (
    UNSPECIFIED4,
    UNSPECIFIED6,
    InstancePlan,
    configured_source,
    core_params,
    excluded_vips,
    family_of,
    mcast_group,
    plan,
    receive_params,
    routes,
    socket_key,
    track_specs,
    vips,
)

__all__ = [
    "UNSPECIFIED4", "UNSPECIFIED6", "InstancePlan", "configured_source", "core_params",
    "excluded_vips", "family_of", "mcast_group", "plan", "receive_params", "routes",
    "socket_key", "track_specs", "vips",
]
