"""runtime.reload: each running instance's fate when a new config replaces the old."""

from __future__ import annotations

from astlinux_ha.config import check_text
from astlinux_ha.runtime import plan as P
from astlinux_ha.runtime.reload import Fate, ReloadPlan, plan_reload, same_globals, strip


def inst(name: str, vrid: int, extra: str = "") -> str:
    return (f"vrrp_instance {name} {{\n  interface eth0\n  virtual_router_id {vrid}\n{extra}"
            f"  virtual_ipaddress {{\n    10.0.0.{vrid}\n  }}\n}}\n")


SCRIPT = 'vrrp_script chk {\n  script "/bin/true"\n}\n'
TRACKS = "  track_script {\n    chk\n  }\n"


def config(text: str):
    c = check_text(text).config
    assert c is not None
    return c


def running(text: str, usable: frozenset[str] = frozenset()):
    c = config(text)
    return c, {i.name: P.plan(c, i, usable) for i in c.instances}


def test_keep_restart_delete_in_running_order() -> None:
    old, plans = running(inst("VI_1", 1) + inst("VI_2", 2) + inst("VI_3", 3))
    new = config("\n\n" + inst("VI_2", 2, "  priority 120\n") + inst("VI_1", 1))
    plan = plan_reload(old, plans, False, new, frozenset())
    assert plan.fates == {"VI_1": Fate.KEEP, "VI_2": Fate.RESTART, "VI_3": Fate.DELETE}
    assert (plan.keep, plan.restart, plan.delete) == (("VI_1",), ("VI_2",), ("VI_3",))
    assert plan.stop == ("VI_2", "VI_3")
    assert [n for n in plan.fates if plan.notifies_deleted(n)] == ["VI_3"]
    assert not plan.notifies_deleted("VI_4")  # never ran


def test_with_sync_groups_nothing_is_kept() -> None:
    old, plans = running(inst("VI_1", 1))
    plan = plan_reload(old, plans, True, config(inst("VI_1", 1)), frozenset())
    assert plan.restart == ("VI_1",)


def test_changed_globals_or_scripts_restart_everything() -> None:
    old, plans = running(inst("VI_1", 1))
    new = config("global_defs {\n  router_id B\n}\n" + inst("VI_1", 1))
    assert plan_reload(old, plans, False, new, frozenset()).restart == ("VI_1",)
    new = config(SCRIPT + inst("VI_1", 1))
    assert plan_reload(old, plans, False, new, frozenset()).restart == ("VI_1",)


def test_a_track_script_refused_or_allowed_again_restarts_its_instance() -> None:
    text = SCRIPT + inst("VI_1", 1, TRACKS)
    old, plans = running(text, frozenset({"chk"}))
    assert plan_reload(old, plans, False, config(text), frozenset({"chk"})).keep == ("VI_1",)
    assert plan_reload(old, plans, False, config(text), frozenset()).restart == ("VI_1",)


def test_strip_drops_locations_only() -> None:
    a = config(inst("VI_1", 1))
    b = config("\n\n\n" + inst("VI_1", 1))
    assert a.instances[0] != b.instances[0]  # their lines differ
    assert strip(a.instances[0]) == strip(b.instances[0])
    assert same_globals(a, b)
    assert strip(config(inst("VI_1", 2)).instances[0]) != strip(a.instances[0])


def test_an_empty_plan() -> None:
    plan = ReloadPlan({})
    assert plan.keep == plan.stop == ()


def test_a_change_of_vips_excluded_or_routes_alone_updates_in_place() -> None:
    old, plans = running(inst("VI_1", 1) + inst("VI_2", 2))
    more = inst("VI_1", 1).replace("    10.0.0.1\n", "    10.0.0.1\n    10.0.0.9\n")
    routed = inst("VI_2", 2, "  virtual_routes {\n    192.168.9.0/24 via 10.0.0.254\n  }\n"
                  "  virtual_ipaddress_excluded {\n    10.0.5.5\n  }\n")
    plan = plan_reload(old, plans, False, config(more + routed), frozenset())
    assert plan.fates == {"VI_1": Fate.UPDATE, "VI_2": Fate.UPDATE}
    # Carried over in their state, so among the kept; nothing stops.
    assert (plan.keep, plan.update, plan.stop) == (("VI_1", "VI_2"), ("VI_1", "VI_2"), ())


def test_anything_else_changed_with_the_vips_restarts() -> None:
    old, plans = running(inst("VI_1", 1))
    new = inst("VI_1", 1, "  priority 120\n").replace("10.0.0.1\n", "10.0.0.9\n")
    assert plan_reload(old, plans, False, config(new), frozenset()).restart == ("VI_1",)
    # A VIP of the other family changes the socket: restarted.
    six = inst("VI_1", 1).replace("10.0.0.1\n", "fe80::9\n")
    assert plan_reload(old, plans, False, config(six), frozenset()).restart == ("VI_1",)
    # In a sync group, nothing is updated in place either.
    more = inst("VI_1", 1).replace("    10.0.0.1\n", "    10.0.0.1\n    10.0.0.9\n")
    assert plan_reload(old, plans, True, config(more), frozenset()).restart == ("VI_1",)
