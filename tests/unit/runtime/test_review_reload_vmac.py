"""A reload whose new config gives a kept instance another use_vmac name (an instance of its
VRID added ahead of it takes vrrp.50) restarts it: kept, it would go on holding vrrp.50, which
the new instance then takes, and updated in place its VIPs would go to a macvlan nobody made."""

from __future__ import annotations

from test_runtime_reload import config, running

from astlinux_ha.runtime.reload import Fate, plan_reload


def vmac_inst(name: str, ifname: str, last: int, vips: str = "") -> str:
    return (f"vrrp_instance {name} {{\n  interface {ifname}\n  virtual_router_id 50\n"
            f"  use_vmac\n  virtual_ipaddress {{\n    10.0.{last}.50\n{vips}  }}\n}}\n")


def test_a_kept_or_updated_instance_whose_vmac_name_changes_restarts() -> None:
    old, plans = running(vmac_inst("VI_2", "eth1", 1))
    assert plans["VI_2"].vmac.ifname == "vrrp.50"  # type: ignore[union-attr]
    added = vmac_inst("VI_1", "eth0", 0)
    new = config(added + vmac_inst("VI_2", "eth1", 1))
    assert plan_reload(old, plans, False, new, frozenset()).fates == {"VI_2": Fate.RESTART}
    new = config(added + vmac_inst("VI_2", "eth1", 1, "    10.0.1.51\n"))
    assert plan_reload(old, plans, False, new, frozenset()).fates == {"VI_2": Fate.RESTART}
    # Added after it, the new one takes vrrp1.50: VI_2 is kept as before.
    new = config(vmac_inst("VI_2", "eth1", 1) + added)
    assert plan_reload(old, plans, False, new, frozenset()).fates == {"VI_2": Fate.KEEP}
