"""A config must not be able to eat the router's CPU or memory (security audit, issue 13).

The properties are checked structurally: a hostile input is refused with a FILE:LINE message,
and the peak of Python's heap while reading it (tracemalloc) stays far below what the
unbounded code spent. The few wall-clock bounds are loose safety nets (the unfixed code took
a minute or more), never the assertion of the property.
"""

from __future__ import annotations

import glob
import os
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from astlinux_ha.config import CheckResult, check, lexer
from astlinux_ha.config.lexer import (
    MAX_FILE_BYTES,
    MAX_INCLUDE_SCAN,
    ScanBudget,
    _brace_pieces,
    bounded_iglob,
    lex_file,
)
from astlinux_ha.problems import Severity

T = TypeVar("T")
MiB = 1024 * 1024
VALID = """vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 7
  priority 100
  virtual_ipaddress {
    10.9.9.9
  }
}
"""


def peak_of(fn: Callable[[], T]) -> tuple[T, int]:
    """``fn()``'s result and the peak bytes Python allocated while it ran."""
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def rendered(result: CheckResult, severity: Severity) -> list[str]:
    return [p.render() for p in result.problems if p.severity is severity]


def test_include_brace_bomb_is_refused_before_expanding(tmp_path: Path) -> None:
    # 20 alternatives of two: 2**20 candidate paths (8.6 s and 134 MB before the fix).
    main = tmp_path / "main.conf"
    main.write_text("include /nonexistent/" + "{a,b}" * 20 + ".conf\n" + VALID)
    result, peak = peak_of(lambda: check(str(main)))
    assert rendered(result, Severity.ERROR) == [
        f"{main}:1: include '/nonexistent/{'{a,b}' * 8}{{a,b...'"
        " expands to more than 1024 paths - ignored"
    ]
    assert result.exit_code == 5
    assert result.config is not None and [i.name for i in result.config.instances] == ["VI_1"]
    assert peak < 8 * MiB, peak


def test_include_brace_bomb_with_nested_groups_is_counted_not_built(tmp_path: Path) -> None:
    # 2**100 paths from a 600-byte line: only counting them first can refuse this at all.
    main = tmp_path / "main.conf"
    main.write_text("include x" + "{a,{b,c}}" * 100 + "\n")
    start = time.process_time()
    result, peak = peak_of(lambda: check(str(main)))
    assert any(
        "expands to more than 1024 paths - ignored" in m for m in rendered(result, Severity.ERROR)
    )
    assert peak < 8 * MiB, peak
    assert time.process_time() - start < 5  # safety net: the old code never finishes


def test_files_included_per_config_are_capped(tmp_path: Path) -> None:
    # 40 files each including the same 40: 1640 file reads from 82 small files.
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    for n in range(40):
        (tmp_path / "a" / f"{n}.conf").write_text("include ../b/*.conf\n")
        (tmp_path / "b" / f"{n}.conf").write_text("! nothing\n")
    main = tmp_path / "main.conf"
    main.write_text("include a/*.conf\n" + VALID)
    result = check(str(main))
    errors = rendered(result, Severity.ERROR)
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path}/a/")
    assert errors[0].endswith(": more than 1024 files included - ignoring the rest")
    assert result.config is not None and len(result.config.instances) == 1


def test_continued_line_of_2_mib_is_one_logical_line(tmp_path: Path) -> None:
    # ~700,000 continuation lines (77 s before the fix: the line was rebuilt at each one).
    pieces = (MAX_FILE_BYTES - 4096) // 3
    path = tmp_path / "long.conf"
    path.write_text("router_id \\\n" + "x\\\n" * pieces + "y\n")
    start = time.process_time()
    lexed = lex_file(str(path))
    elapsed = time.process_time() - start
    (line,) = lexed.lines
    assert line.words[0] == "router_id" and line.words[-1] == "y"
    assert len(line.words) == pieces + 2 and set(line.words[1:-1]) == {"x"}
    assert line.where.line == 1
    assert lexed.problems == ()
    # Safety net only (about 1 s here; str concatenation leaves no other trace to count).
    assert elapsed < 10


class CountingStr(str):
    """A str that counts the characters its slices and strips copy (into ``copied``)."""

    copied = 0

    def _wrap(self, value: str) -> CountingStr:
        CountingStr.copied += len(value)
        return CountingStr(value)

    def __getitem__(self, key):  # type: ignore[no-untyped-def,override]
        return self._wrap(str.__getitem__(self, key))

    def lstrip(self, chars: str | None = None) -> CountingStr:
        return self._wrap(str.lstrip(self, chars))

    def rstrip(self, chars: str | None = None) -> CountingStr:
        return self._wrap(str.rstrip(self, chars))


def test_splitting_braces_off_a_line_copies_it_once() -> None:
    # 15,000 braces on one (joined) line: each used to copy the rest of the line, ~10**8
    # characters in all; splitting it copies each character about once.
    line = CountingStr("a " + "{ b } " * 5000)
    CountingStr.copied = 0
    pieces = list(_brace_pieces(line))
    assert pieces[:5] == ["a", "{", "b", "}", "{"] and len(pieces) == 1 + 3 * 5000
    assert CountingStr.copied <= 2 * len(line), CountingStr.copied


def test_a_file_of_a_million_tiny_lines_is_refused_early(tmp_path: Path) -> None:
    # 2 bytes a line: ~1M lines in a 2 MiB file took 500 MB of RSS before the fix.
    path = tmp_path / "junk.conf"
    path.write_text("a\n" * ((MAX_FILE_BYTES - 4096) // 2))
    result, peak = peak_of(lambda: check(str(path)))
    assert rendered(result, Severity.FATAL) == [
        f"{path}:100001: more than 100000 lines - not a keepalived configuration"
    ]
    assert result.exit_code == 4
    assert peak < 96 * MiB, peak


def test_blocks_nested_too_deep_are_one_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.conf"
    path.write_text("a {\n" * 20_000 + "}\n" * 20_000 + VALID)
    result = check(str(path))
    assert rendered(result, Severity.ERROR)[:1] == [
        f"{path}:33: blocks nested more than 32 deep - ignoring this block"
    ]
    assert len(result.problems) < 40
    assert result.config is not None and len(result.config.instances) == 1


def test_dollar_references_on_a_long_line_stop_at_the_budget(tmp_path: Path) -> None:
    # 200,000 references to a 500-byte value: 100 MB if expanded in one go.
    path = tmp_path / "defs.conf"
    path.write_text("$A=" + "v" * 500 + "\nx \\\n" + "$A \\\n" * 200_000 + "\n")
    result, peak = peak_of(lambda: check(str(path)))
    assert any("expand without end" in m for m in rendered(result, Severity.ERROR))
    assert peak < 48 * MiB, peak


def _feed_fifo_later(fifo: Path, text: bytes) -> threading.Thread:
    """Unblock a reader that (wrongly) opened ``fifo``, so the old code fails, not hangs."""

    def feed() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody is reading (the fixed code never opens it)
                time.sleep(0.05)
                continue
            os.write(fd, text)
            os.close(fd)
            return

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def test_main_config_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "keepalived.conf"
    os.mkfifo(fifo)
    _feed_fifo_later(fifo, VALID.encode())
    result = check(str(fifo))
    assert rendered(result, Severity.FATAL) == [
        f"configuration file '{fifo}' is not a regular file"
    ]
    assert result.exit_code == 4


def test_main_config_that_is_a_directory_is_refused_not_raised(tmp_path: Path) -> None:
    # An admin's `mkdir keepalived.conf` before a SIGHUP: the reload must report, not crash.
    target = tmp_path / "keepalived.conf"
    target.mkdir()
    result = check(str(target))
    assert rendered(result, Severity.FATAL) == [f"configuration file '{target}' is a directory"]
    assert result.exit_code == 4


def test_include_of_a_fifo_or_device_is_skipped_with_a_warning(tmp_path: Path) -> None:
    # keepalived 2.2.7: "Configuration file '...' is not a regular non-executable file -
    # skipping", and -t still exits 0.
    fifo = tmp_path / "fifo.conf"
    os.mkfifo(fifo)
    main = tmp_path / "main.conf"
    main.write_text(f"include {fifo}\ninclude /dev/zero\n" + VALID)
    result = check(str(main))
    assert rendered(result, Severity.WARNING) == [
        f"{main}:1: configuration file '{fifo}' is not a regular file - skipping (warning)",
        f"{main}:2: configuration file '/dev/zero' is not a regular file - skipping (warning)",
    ]
    assert result.exit_code == 0
    assert result.config is not None and len(result.config.instances) == 1


def test_dollar_expansion_has_a_budget_for_the_whole_config(tmp_path: Path) -> None:
    # Each line stays under the per-line budget (4,000 characters), but 10,000 of them made
    # 40 MB of text, words and 1,000-character 'unknown keyword' problems from a 120 kB file
    # (100,000 such lines took 981 MB of RSS before the fix).
    path = tmp_path / "defs.conf"
    path.write_text("$A=" + "x" * 1000 + "\nglobal_defs {\n" + "$A $A $A $A\n" * 10_000 + "}\n")
    result, peak = peak_of(lambda: check(str(path)))
    # 2 MiB / 3,989 characters added a line: line 528 is the first past the budget.
    assert rendered(result, Severity.FATAL) == [
        f"{path}:528: $ definitions expand the configuration by more than 2 MiB - cannot run"
    ]
    assert result.exit_code == 4
    assert len(result.problems) < 600  # one 'unknown keyword' per line read, no more
    assert peak < 16 * MiB, peak


def test_dollar_expansion_below_the_budget_is_untouched(tmp_path: Path) -> None:
    # A config that adds less than 2 MiB in all loads as before, however many lines use $.
    path = tmp_path / "defs.conf"
    path.write_text("$P=42\n" + VALID.replace("priority 100", "priority $P"))
    result = check(str(path))
    assert result.problems == ()
    assert result.config is not None and result.config.instances[0].priority == 42


class CountingScandir:
    """os.scandir that counts the directory entries read through it (glob uses it too)."""

    def __init__(self) -> None:
        self.entries = 0
        self.real = os.scandir

    def __call__(self, path: str = ".") -> Iterator[os.DirEntry[str]]:
        outer = self

        class Counted:
            def __init__(self) -> None:
                self.it = outer.real(path)

            def __enter__(self) -> Counted:
                return self

            def __exit__(self, *exc: object) -> None:
                self.it.close()

            def __iter__(self) -> Counted:
                return self

            def __next__(self) -> os.DirEntry[str]:
                entry = next(self.it)
                outer.entries += 1
                return entry

        return Counted()  # type: ignore[return-value]


def test_include_wildcards_cannot_walk_a_whole_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 12 symlinks to their own directory: '*/*/*/*/*/' walks 12**5 paths (271,000 entries
    # read); '/*/*/*/*/*/*/zz{a,b,c,d}' walked /proc and /sys for 34 s before the fix.
    loop = tmp_path / "loop"
    loop.mkdir()
    for n in range(12):
        (loop / f"l{n}").symlink_to(".")
    main = tmp_path / "main.conf"
    main.write_text("include loop/*/*/*/*/*/zz.conf\n" + VALID)
    counter = CountingScandir()
    monkeypatch.setattr(os, "scandir", counter)
    result = check(str(main))
    assert rendered(result, Severity.ERROR) == [
        f"{main}:1: include 'loop/*/*/*/*/*/zz.conf' reads more than 100000 directory"
        " entries (all includes together) - ignored"
    ]
    assert result.config is not None and [i.name for i in result.config.instances] == ["VI_1"]
    assert counter.entries <= MAX_INCLUDE_SCAN + 1, counter.entries


def test_include_scan_budget_is_for_the_whole_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many includes, each cheap, must not add up to the walk one include may not do.
    monkeypatch.setattr(lexer, "MAX_INCLUDE_SCAN", 100)
    (tmp_path / "d").mkdir()
    for n in range(40):
        (tmp_path / "d" / f"{n:02}.txt").write_text("")
    (tmp_path / "d" / "x.conf").write_text("! included\n")
    main = tmp_path / "main.conf"
    main.write_text("include d/*.conf\n" * 3 + VALID)
    lexed = lex_file(str(main))
    assert lexed.files == (
        str(main),
        str(tmp_path / "d" / "x.conf"),
        str(tmp_path / "d" / "x.conf"),
    )
    assert [p.render() for p in lexed.problems] == [
        f"{main}:3: include 'd/*.conf' reads more than 100 directory entries"
        " (all includes together) - ignored"
    ]


# Names and patterns that exercise glob's corners: hidden names (matched only by a pattern
# component starting with '.'), trailing and doubled slashes, brackets, '**' (not recursive,
# as in glob(3) without GLOB_STAR), magic characters in file names, a dangling symlink.
GLOB_TREE = (
    "a.conf b.conf .hidden.conf sub/c.conf sub/.h/d.conf sub/e.txt sub2/f.conf x[1].conf"
    " x1.conf dir.conf/g.conf **/h.conf q?/i.conf"
).split()
GLOB_PATTERNS = (
    "* *.conf .* */ */*.conf */.*/* sub*/* */*/ sub//*.conf x[1].conf x[!a].conf x[[]1].conf"
    " [a-b].conf ?.conf ** **/*.conf */**/*.conf sub/*/ sub/.h/* nothere/* a.conf/* q?/*"
    " *.conf/ sub/../*.conf ./*.conf sub/ [.]* *// link/* */c.conf *.conf//"
).split()


def test_bounded_glob_matches_what_glob_glob_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The walker replaces glob.iglob for includes: same matches, same spelling of each path.
    for name in GLOB_TREE:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "link").symlink_to("sub")
    (tmp_path / "dangling.conf").symlink_to("nowhere")
    for pattern in GLOB_PATTERNS:
        full = f"{tmp_path}/{pattern}"
        assert sorted(bounded_iglob(full, ScanBudget(10_000))) == sorted(glob.glob(full)), pattern
    monkeypatch.chdir(tmp_path)  # relative patterns: the main config given as a bare name
    for pattern in GLOB_PATTERNS:
        assert sorted(bounded_iglob(pattern, ScanBudget(10_000))) == sorted(glob.glob(pattern)), (
            pattern
        )
