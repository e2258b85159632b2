"""keepalived's @ID conditional lines and $NAME definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from astlinux_ha.config import check, check_text
from astlinux_ha.config.preprocess import Preprocessor, default_config_id
from astlinux_ha.problems import Severity

BOTH = """$IF=eth0
$VIP=10.10.50.244
vrrp_instance VI_1 {
  interface $IF
  virtual_router_id 50
@master  state MASTER
@master  priority 100
@^master priority 99
  virtual_ipaddress {
    ${VIP} dev $IF label ${IF}:10
  }
}
"""


@pytest.mark.parametrize(
    ("config_id", "state", "priority"),
    [("master", "MASTER", 100), ("backup", "BACKUP", 99)],
)
def test_one_file_for_master_and_backup(config_id: str, state: str, priority: int) -> None:
    result = check_text(BOTH, config_id=config_id)
    assert result.problems == ()
    assert result.config is not None
    (inst,) = result.config.instances
    assert (inst.state.value, inst.priority, inst.interface) == (state, priority, "eth0")
    vip = inst.virtual_ipaddresses[0]
    assert (str(vip.address), vip.device, vip.label) == ("10.10.50.244", "eth0", "eth0:10")


def test_default_config_id_is_the_short_host_name() -> None:
    pre = Preprocessor()
    assert pre.config_id == default_config_id()
    assert "." not in pre.config_id
    assert pre.select(f"@{pre.config_id} priority 5") == "priority 5"
    assert pre.select(f"@^{pre.config_id} priority 5") is None
    assert pre.select("@someone") is None  # nothing after the id


def test_definitions_hold_across_includes_and_can_be_redefined(tmp_path: Path) -> None:
    (tmp_path / "defs.conf").write_text("$PRIO=42\n")
    (tmp_path / "main.conf").write_text(
        "include defs.conf\n"
        + BOTH.replace("@master  priority 100\n", "priority $PRIO\n").replace(
            "@^master priority 99\n", ""
        )
    )
    result = check(str(tmp_path / "main.conf"), config_id="master")
    assert result.config is not None
    assert result.config.instances[0].priority == 42


def test_unknown_reference_is_left_as_written() -> None:
    assert Preprocessor("x").expand("priority $NOPE") == ("priority $NOPE", True)


def test_self_reference_is_an_error_not_a_hang() -> None:
    result = check_text("$A=$A$A\nvrrp_instance V {\n  priority $A\n}\n")
    assert any("expand without end" in p.message for p in result.problems)


def test_multiline_definition_is_reported() -> None:
    result = check_text("$VIPS=10.0.0.1 \\\n  10.0.0.2\n")
    msgs = [p.message for p in result.problems if p.severity is Severity.ERROR]
    assert msgs == ["multi-line $ definitions are not supported - use one line"]


def test_a_value_may_carry_a_comment() -> None:
    result = check_text(
        "$P=7 # seven\nvrrp_instance V {\ninterface eth0\nvirtual_router_id 1\npriority $P\n"
        "virtual_ipaddress {\n10.0.0.1\n}\n}\n"
    )
    assert result.config is not None and result.config.instances[0].priority == 7
