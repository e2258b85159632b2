"""checks.replace_fields builds what dataclasses.replace builds, for every model class."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from astlinux_ha.config import check_text, model
from astlinux_ha.config.checks import replace_fields

CONF = """global_defs {
  script_user root
  notify_fifo /run/k.fifo
}
vrrp_script chk {
  script "/bin/true"
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  unicast_peer {
    10.0.0.2
  }
  track_interface {
    eth1 weight 5
  }
  track_script {
    chk
  }
  authentication {
    auth_type PASS
    auth_pass secret
  }
  notify_master /bin/true
  virtual_ipaddress {
    10.0.0.9/24 dev eth0 label eth0:1
  }
  virtual_routes {
    10.1.0.0/16 via 10.0.0.1
  }
}
vrrp_sync_group G {
  group {
    VI_1
  }
}
"""

MODEL_CLASSES = [c for _, c in inspect.getmembers(model, inspect.isclass)
                 if dataclasses.is_dataclass(c) and c.__module__ == model.__name__]


def _samples() -> list[object]:
    config = check_text(CONF, "k.conf").config
    assert config is not None
    inst = config.instances[0]
    g = config.global_defs
    return [config, g, g.script_user, g.notify_fifo, inst, inst.virtual_ipaddresses[0],
            inst.virtual_routes[0], inst.unicast_peers[0], inst.track_interfaces[0],
            inst.track_scripts[0], inst.authentication, inst.notifies, inst.notifies.master,
            config.scripts[0], config.sync_groups[0]]


def test_model_classes_only_store_their_fields() -> None:
    # What replace_fields relies on: __init__ runs nothing but the stores it does itself.
    for cls in MODEL_CLASSES:
        assert not hasattr(cls, "__post_init__"), cls
        assert all(f.init for f in dataclasses.fields(cls)), cls


@pytest.mark.parametrize("obj", _samples(), ids=lambda o: type(o).__name__)
def test_same_object_as_dataclasses_replace(obj: object) -> None:
    first = dataclasses.fields(obj)[0].name
    changed = replace_fields(obj, {first: "other"})
    assert changed == dataclasses.replace(obj, **{first: "other"})
    assert type(changed) is type(obj) and changed is not obj
    assert replace_fields(obj, {}) == obj
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.__setattr__(first, "again")


def test_every_model_class_is_sampled() -> None:
    assert {type(o) for o in _samples()} == set(MODEL_CLASSES)


def test_unknown_field_is_refused() -> None:
    inst = _samples()[4]
    with pytest.raises(TypeError, match="no field 'nonsense'"):
        replace_fields(inst, {"nonsense": 1})
