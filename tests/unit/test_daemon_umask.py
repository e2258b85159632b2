"""The umask of the daemon and its scripts: -u, else the config's, else keepalived's 0177."""

from astlinux_ha.cli import parse_options
from astlinux_ha.config.model import Config, GlobalDefs
from astlinux_ha.options import DEFAULT_UMASK


def config(umask: int | None = None) -> Config:
    return Config(path="keepalived.conf", global_defs=GlobalDefs(umask=umask))


def test_default_is_keepalived_0177():
    assert DEFAULT_UMASK == 0o177
    assert parse_options([]).umask_for(config()) == 0o177


def test_command_line_umask():
    assert parse_options(["-u", "0133"]).umask_for(config()) == 0o133
    assert parse_options(["-u", "0"]).umask_for(config()) == 0


def test_config_umask_unless_the_command_line_names_one():
    assert parse_options([]).umask_for(config(0o137)) == 0o137
    # keepalived: "umask command line option specified, ignoring config option".
    assert parse_options(["-u", "0133"]).umask_for(config(0o137)) == 0o133
