"""The daemon's own umask: the config's, else -u's, else keepalived's 0177 (as for scripts)."""

from astlinux_ha.cli import parse_options
from astlinux_ha.config.model import Config, GlobalDefs
from astlinux_ha.daemon import DEFAULT_UMASK, process_umask


def config(umask: int | None = None) -> Config:
    return Config(path="keepalived.conf", global_defs=GlobalDefs(umask=umask))


def test_default_is_keepalived_0177():
    assert DEFAULT_UMASK == 0o177
    assert process_umask(parse_options([]), config()) == 0o177


def test_command_line_umask():
    assert process_umask(parse_options(["-u", "0133"]), config()) == 0o133
    assert process_umask(parse_options(["-u", "0"]), config()) == 0


def test_config_umask_as_the_scripts_get_it():
    assert process_umask(parse_options([]), config(0o137)) == 0o137
    assert process_umask(parse_options(["-u", "0133"]), config(0o137)) == 0o137
