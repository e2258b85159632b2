"""Start and reload load the config one way: ``-i ID`` picks the ``@ID`` lines on both."""

from __future__ import annotations

from pathlib import Path

import pytest

from astlinux_ha.config_load import load_config
from astlinux_ha.options import Options, load_for_run

# Neither id is this host's name: without -i both @ lines would be dropped (priority 100).
CONF = """vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 50
@astlinux-ha-box-a  priority 150
@astlinux-ha-box-b  priority 50
  virtual_ipaddress {
    10.10.50.244
  }
}
"""


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "keepalived.conf"
    path.write_text(CONF)
    return path


@pytest.mark.parametrize(("config_id", "priority"),
                         [("astlinux-ha-box-a", 150), ("astlinux-ha-box-b", 50), (None, 100)])
def test_load_for_run_keeps_the_config_ids_lines(conf: Path, config_id: str | None,
                                                 priority: int) -> None:
    result = load_for_run(Options(config_file=str(conf), config_id=config_id))
    assert result.runnable and result.config is not None
    assert result.config.instance("VI_1").priority == priority


def test_a_reload_keeps_the_config_id(conf: Path) -> None:
    # The reload's own loader (run in its worker thread on SIGHUP), given the daemon's options.
    options = Options(config_file=str(conf), config_id="astlinux-ha-box-b")
    config, problems, scripts = load_config(options, str(conf))
    assert config is not None and scripts is not None, problems
    assert config.instance("VI_1").priority == 50
