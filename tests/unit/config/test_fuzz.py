"""Whatever the text, reading a config returns problems; it never raises."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astlinux_ha.config import CheckResult, ConfigError, check_text, load
from astlinux_ha.problems import Problem

SEED = Path(__file__).resolve().parents[3] / "etc" / "keepalived" / "keepalived.conf.master"
SEED_TEXT = SEED.read_text()
TOKENS = [
    "{",
    "}",
    '"',
    "'",
    "\\",
    "#",
    "!",
    "\n",
    " ",
    "include",
    "vrrp_instance",
    "priority",
    "virtual_ipaddress",
    "10.0.0.1/33",
    "fd00::1",
    "state",
    "MASTER",
    "notify",
    "255",
    "-1",
    "advert_int",
    "0.001",
    "unicast_peer",
    "track_script",
    "vrrp_script",
    "global_defs",
    "brd",
    "+",
    "dev",
    "label",
    "\x00",
    "\xff",
    "virtual_router_id",
    "version",
    "3",
]


def _assert_sane(result: CheckResult) -> None:
    assert isinstance(result, CheckResult)
    assert all(isinstance(p, Problem) for p in result.problems)
    assert result.exit_code in (0, 4, 5)
    for p in result.problems:
        p.render()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text_never_raises(text: str) -> None:
    _assert_sane(check_text(text))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=80))
def test_random_token_soup_never_raises(tokens: list[str]) -> None:
    _assert_sane(check_text(" ".join(tokens)))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(SEED_TEXT)), st.integers(0, 20), st.sampled_from(TOKENS)),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_seed_never_raises(edits: list[tuple[int, int, str]]) -> None:
    text = SEED_TEXT
    for pos, cut, insert in edits:
        text = text[:pos] + insert + text[pos + cut :]
    _assert_sane(check_text(text))


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300))
def test_random_bytes_file_load_raises_only_config_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "k.conf"
    path.write_bytes(data)
    try:
        load(str(path))
    except ConfigError as err:
        assert err.problems
