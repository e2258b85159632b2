"""keepalived.conf text to logical lines of words, the way keepalived's lib/parser.c reads it.

What a line goes through, in keepalived's order:

1. ``#`` and ``!`` start a comment anywhere outside ``"..."``; ``\\#`` and ``\\!`` outside quotes
   stand for the characters themselves. Other backslash escapes are left for later.
2. A trailing ``\\`` joins the next physical line (keepalived itself only does this for
   ``$VAR=`` definitions; joining is a superset that no working keepalived config relies on).
3. ``include GLOB`` (and ``includer``/``m``/``w``/``b``/``a``) is replaced by the matching
   files' lines; relative globs resolve against the including file's directory; a file or
   directory that is not there is reported as keepalived 2.4.3 does ("Config files missing",
   a warning for plain ``include``), a wildcard matching nothing in an existing directory
   passes silently (except for ``includew``/``includea``); a file that includes itself
   (directly or not) is an error.
4. ``{`` and ``}`` outside quotes are split off onto lines of their own, so ``foo {``,
   ``{`` on the next line and ``value }`` all look alike to the parser.
5. Words are split on white space; a word starting with ``"`` runs to the next ``"`` (no
   escapes at this level: ``notify "/x.sh 'a b'" root`` gives three words).

A config cannot make the reader spend unbounded CPU or memory (issue 13): 2 MiB of text in all,
and $ definitions may add at most as much again, 100,000 logical lines, 1,024 files, includes
32 deep, 1,024 paths per include (brace alternatives are counted before any is built),
100,000 directory entries read by all include wildcards together, and every pass over a line
is linear. Include targets are opened non-blocking and fstat()ed, so a FIFO or a device is
skipped, never read.
"""

from __future__ import annotations

import fnmatch
import glob
import itertools
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from astlinux_ha.problems import Location, Problem, Severity

from .preprocess import Preprocessor

MAX_LINE = 1023  # keepalived's MAXBUF (1024) including the terminating NUL
MAX_FILE_BYTES = 2 * 1024 * 1024  # far above any real config; refuses runaway or junk files
MAX_INCLUDE_DEPTH = 32
# keepalived 2.2.7 has no nesting limit of its own: an include loop runs until open() fails
# with EMFILE. 32 levels is far more than any real tree and keeps the reader's stack small.
MAX_INCLUDE_PATTERNS = 1024  # paths one include's {a,b} alternatives may expand to
MAX_INCLUDED_FILES = 1024  # files read for one config, the main one included
MAX_INCLUDE_PATH = 4096  # PATH_MAX: glob(3) could not match a longer pattern anyway
MAX_BRACE_DEPTH = 32  # {a,{b,{c,...}}} nesting in one include pattern
# Directory entries read and paths looked up by every include of one config together. The
# 1,024-path cap bounds what a wildcard matches, not what it reads to find out: '/*/*/*/*/*/*/zz'
# walked /proc and /sys for 34 s. A real config's includes read a few dozen entries.
MAX_INCLUDE_SCAN = 100_000
# What $ definitions may add to a config in all: as much as the config itself may hold. The
# per-line budget (preprocess.MAX_EXPANDED) alone let 100,000 lines each grow by 4,000
# characters (981 MB of RSS from a 1.2 MB file).
MAX_EXPANSION_BYTES = MAX_FILE_BYTES
# Logical lines per config: the 255-instance x 20-VIP benchmark config has 7,400, and each line
# costs ~500 bytes of Python objects, so a 2 MiB file of 2-byte lines would take 500 MB.
MAX_LINES = 100_000
# C0 controls other than white space, and DEL: never in a text config, always in binary junk.
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")
MAX_BAD_LINES = 10  # beyond this many unreadable lines the file is junk, not a config
# A word: "quoted" (without its quotes), or a run of anything but white space and quotes; a
# quote without its closing one ends the words (split_words reports it).
_WORD = re.compile(r'"([^"]*)"|([^ \t\f\v\r\n"]+)|(")')
_BRACE_OR_QUOTE = re.compile(r'[{}"]')
_BRACE_SPLIT = re.compile(r"([{}])")
_BRACE_WORDS = {"{": ("{",), "}": ("}",)}
# What sends a line through the full reader: comments, quotes, escapes and continuations,
# carriage returns, $ definitions and @ID selection.
_SPECIAL = re.compile(r'[#!"\\\r$@]')
# Location and Line built without their Python-level __new__ (one of each per line).
_new = tuple.__new__
_BRACE_OR_COMMA = re.compile(r"[{},]")
_INCLUDE_VARIANTS = frozenset(
    ("include", "includer", "includem", "includew", "includeb", "includea"))
# What each variant makes a config error, as lib/parser.c's include_t bits (keepalived 2.4.3):
# M: files missing (a name not there, or a directory not there); W: a wildcard matching
# nothing; B: any brace alternative missing. Plain 'include' makes none of them an error: it
# still says "Config files missing", but -t exits 0 (file_config_error reports CONFIG_OK).
_INCLUDE_M, _INCLUDE_W, _INCLUDE_B = 1, 2, 4
_INCLUDE_CHECKS = {
    "include": 0,
    "includer": 0,
    "includem": _INCLUDE_M,
    "includew": _INCLUDE_M | _INCLUDE_W,
    "includeb": _INCLUDE_B,
    "includea": _INCLUDE_M | _INCLUDE_W | _INCLUDE_B,
}


class Statement(NamedTuple):
    """A keyword line with its arguments and, when followed by ``{ ... }``, its block.

    The reader makes each logical line one of these without a block (a :data:`Line`); the
    parser (:mod:`.parser`) passes those on as they are and gives a line that opens a block a
    copy with it: one object per line instead of two (a 5000-instance config has 55,000).
    """

    words: tuple[str, ...]
    text: str  # the decommented text, for lines re-split with quotes (scripts)
    where: Location
    block: tuple[Statement, ...] | None = None

    @property
    def keyword(self) -> str:
        """The first word."""
        return self.words[0]

    @property
    def args(self) -> tuple[str, ...]:
        """The words after the keyword."""
        return self.words[1:]


# One logical line as the reader makes it: its words, its text and where it starts (no block).
Line = Statement


@dataclass(frozen=True, slots=True)
class LexResult:
    """Every logical line of a config and its includes, in reading order."""

    lines: tuple[Line, ...]
    problems: tuple[Problem, ...]
    files: tuple[str, ...]


def decomment(text: str) -> tuple[str, bool, bool]:
    """Strip a comment; return (text, continues on next line, has an unterminated quote)."""
    if "#" not in text and "!" not in text and "\\" not in text:
        # Nothing to cut or join: quotes only decide whether one is left open.
        return text.strip(" \t"), False, text.count('"') % 2 == 1
    out: list[str] = []
    quote = False
    i = 0
    n = len(text)
    cont = False
    while i < n:
        ch = text[i]
        if ch == '"':
            quote = not quote
        elif ch == "\\":
            if i + 1 >= n:
                cont = True
                break
            nxt = text[i + 1]
            if not quote and nxt in "#!":
                out.append(nxt)
            else:
                out.append(ch)
                out.append(nxt)
            i += 2
            continue
        elif not quote and ch in "#!":
            break
        out.append(ch)
        i += 1
    return "".join(out).strip(" \t"), cont, quote


def split_words(text: str) -> tuple[list[str], bool]:
    """Split a decommented line into words; return (words, quote was unmatched)."""
    if '"' not in text:
        return text.split(), False
    words: list[str] = []
    for quoted, bare, lone in _WORD.findall(text):
        if lone:
            return words, True
        words.append(bare or quoted)
    return words, False


def _brace_pieces(text: str) -> Iterator[str]:
    """Split ``{`` and ``}`` outside quotes onto pieces of their own.

    One pass over ``text``: a joined line may hold thousands of braces, and slicing off the
    rest of the line at each one made such a line quadratic.
    """
    if "{" not in text and "}" not in text:
        yield text
        return
    quote = False
    start = 0
    n = len(text)
    for match in _BRACE_OR_QUOTE.finditer(text):
        ch = match.group()
        if ch == '"':
            quote = not quote
            continue
        if quote:
            continue
        pos = match.start()
        if pos > start:
            yield text[start:pos].rstrip(" \t")
        yield ch
        start = pos + 1
        while start < n and text[start] in " \t":
            start += 1
    if start < n:
        yield text[start:]


class PatternTooComplex(ValueError):
    """An include pattern whose ``{a,b}`` alternatives go past a limit; str() says which."""


# A brace pattern, parsed: a sequence of literal text and groups; a group is a list of
# alternatives, each a sequence again ({a,{b,c}} nests).
_Sequence = list["str | list[_Sequence]"]


def _match_brace(pattern: str, start: int) -> tuple[int, list[int]]:
    """The ``}`` closing the ``{`` at ``start`` (-1 if none) and its top-level commas."""
    depth = 0
    commas: list[int] = []
    for match in _BRACE_OR_COMMA.finditer(pattern, start):
        ch = match.group()
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return match.start(), commas
        elif depth == 1:
            commas.append(match.start())
    return -1, commas


def _parse_braces(pattern: str, depth: int = 0) -> _Sequence:
    """``pattern`` as literal text and groups, with glob(GLOB_BRACE)'s reading of braces.

    From an unbalanced ``{`` on, the rest is literal (as glob takes it); ``{}`` is one empty
    alternative.
    """
    items: _Sequence = []
    pos = 0
    while (start := pattern.find("{", pos)) >= 0:
        close, commas = _match_brace(pattern, start)
        if close < 0:
            break
        if depth >= MAX_BRACE_DEPTH:
            raise PatternTooComplex(f"has braces nested more than {MAX_BRACE_DEPTH} deep")
        if start > pos:
            items.append(pattern[pos:start])
        bounds = [start, *commas, close]
        items.append(
            [_parse_braces(pattern[a + 1 : b], depth + 1) for a, b in itertools.pairwise(bounds)]
        )
        pos = close + 1
    if pos < len(pattern):
        items.append(pattern[pos:])
    return items


def _count(sequence: _Sequence, limit: int) -> int:
    """How many strings ``sequence`` expands to, saturating at ``limit + 1``."""
    total = 1
    for item in sequence:
        if isinstance(item, list):
            total *= min(sum(_count(alt, limit) for alt in item), limit + 1)
            total = min(total, limit + 1)
    return total


def _expand(sequence: _Sequence) -> list[str]:
    """Every string ``sequence`` stands for, in glob's order (the first group varies slowest).

    Only called once :func:`_count` allowed it, so no intermediate list is longer than the
    result. Single-string runs are joined first, so that a chain of ``{a}`` costs one copy
    per result instead of one per ``{a}``.
    """
    out = [""]
    literal: list[str] = []
    for item in sequence:
        if isinstance(item, str):
            literal.append(item)
            continue
        alternatives = [one for alt in item for one in _expand(alt)]
        if len(alternatives) == 1:
            literal.append(alternatives[0])
            continue
        prefix = "".join(literal)
        literal = []
        out = [head + prefix + alt for head in out for alt in alternatives]
    suffix = "".join(literal)
    return [head + suffix for head in out]


def expand_braces(pattern: str, limit: int = MAX_INCLUDE_PATTERNS) -> list[str]:
    """csh-style ``{a,b}`` expansion, as glob(GLOB_BRACE) does before matching.

    The expansions are counted before any is built, so ``{a,b}`` twenty times (2**20 paths)
    costs a few KB, not 134 MB: PatternTooComplex past ``limit`` paths or
    :data:`MAX_BRACE_DEPTH` levels of nesting.
    """
    if "{" not in pattern:
        return [pattern]
    sequence = _parse_braces(pattern)
    if _count(sequence, limit) > limit:
        raise PatternTooComplex(f"expands to more than {limit} paths")
    return _expand(sequence)


class ScanBudgetExceeded(Exception):
    """Raised by :class:`ScanBudget` once the entries allowed have all been read."""


class ScanBudget:
    """How many more directory entries and path look-ups include wildcards may spend."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def spend(self, count: int = 1) -> None:
        """Charge ``count`` entries or look-ups; ScanBudgetExceeded past the limit."""
        self.left -= count
        if self.left < 0:
            raise ScanBudgetExceeded


def bounded_iglob(pattern: str, budget: ScanBudget) -> Iterator[str]:
    """What ``glob.iglob(pattern)`` yields, in the same order, with every step charged.

    The same walk as CPython 3.11's glob (non-recursive: ``**`` is ``*``; a name starting
    with ``.`` only matches a pattern component starting with ``.``; a trailing ``/`` matches
    directories only), rebuilt here because glob has no way to stop it: each directory read,
    each entry read from it and each path looked up costs one unit of ``budget``, and the
    walk raises ScanBudgetExceeded instead of going on. Lazy, like iglob, so a caller that
    stops early stops the walk.
    """
    return _iglob(pattern, False, budget)


def _iglob(pattern: str, dironly: bool, budget: ScanBudget) -> Iterator[str]:
    """glob._iglob without root_dir, dir_fd or recursion."""
    dirname, basename = os.path.split(pattern)
    if not glob.has_magic(pattern):
        budget.spend()
        if basename:
            if os.path.lexists(pattern):
                yield pattern
        elif os.path.isdir(dirname):  # 'dir/' matches a directory only
            yield pattern
        return
    if not dirname:
        yield from _glob_in(dirname, basename, dironly, budget)
        return
    # os.path.split() gives the path itself back for '/': no recursion then
    if dirname != pattern and glob.has_magic(dirname):
        dirs: Iterator[str] | list[str] = _iglob(dirname, True, budget)
    else:
        dirs = [dirname]
    magic = glob.has_magic(basename)
    for parent in dirs:
        if magic:
            names = _glob_in(parent, basename, dironly, budget)
        else:
            names = _glob_literal(parent, basename, budget)
        for name in names:
            yield os.path.join(parent, name)


def _glob_in(dirname: str, pattern: str, dironly: bool, budget: ScanBudget) -> list[str]:
    """glob._glob1: the names in ``dirname`` that ``pattern`` matches."""
    names = _list_dir(dirname, dironly, budget)
    if pattern[0] != ".":
        names = [name for name in names if name[0] != "."]
    return fnmatch.filter(names, pattern)


def _glob_literal(dirname: str, basename: str, budget: ScanBudget) -> list[str]:
    """glob._glob0: ``basename`` if it exists in ``dirname`` ('' if ``dirname`` is a dir)."""
    budget.spend()
    if basename:
        if os.path.lexists(os.path.join(dirname, basename) if dirname else basename):
            return [basename]
    elif os.path.isdir(dirname):
        return [basename]
    return []


def _list_dir(dirname: str, dironly: bool, budget: ScanBudget) -> list[str]:
    """glob._listdir: the names in ``dirname`` (only subdirectories if ``dironly``).

    An unreadable directory gives nothing, as in glob. The directory itself costs one unit
    (so that opening many empty or missing ones is not free), and each entry one more.
    """
    budget.spend()
    names: list[str] = []
    try:
        with os.scandir(dirname or os.curdir) as entries:
            for entry in entries:
                budget.spend()
                try:
                    if not dironly or entry.is_dir():
                        names.append(entry.name)
                except OSError:
                    pass
    except OSError:
        pass  # what was read before the error stands, as in glob
    return names


class _Reader:
    """Reads one config tree; collects lines and problems instead of raising."""

    def __init__(self, config_id: str | None = None) -> None:
        self.pre = Preprocessor(config_id)
        self.lines: list[Line] = []
        self.problems: list[Problem] = []
        self.files: list[str] = []
        self.total_bytes = 0
        self.opened = 0  # files opened, for MAX_INCLUDED_FILES
        self.stopped = False  # a whole-config limit was passed: nothing more is read
        self.expanded = 0  # characters $ definitions added, for MAX_EXPANSION_BYTES
        self.scan = ScanBudget(MAX_INCLUDE_SCAN)  # for all include wildcards together

    def problem(self, where: Location | None, severity: Severity, message: str) -> None:
        self.problems.append(Problem(where, severity, message))

    def read_file(self, path: str, stack: tuple[str, ...], where: Location | None) -> None:
        if self.stopped:
            return
        real = os.path.realpath(path)
        if real in stack:
            chain = " -> ".join([*stack[stack.index(real) :], real])
            self.problem(where, Severity.FATAL, f"include loop: {chain}")
            return
        if len(stack) >= MAX_INCLUDE_DEPTH:
            self.problem(
                where, Severity.FATAL, f"includes nested more than {MAX_INCLUDE_DEPTH} deep"
            )
            return
        if self.opened >= MAX_INCLUDED_FILES:
            # Reported once: a glob in each of many files could otherwise open thousands
            # of files, each too small for the byte cap to stop it.
            if self.opened == MAX_INCLUDED_FILES:
                self.problem(
                    where,
                    Severity.ERROR,
                    f"more than {MAX_INCLUDED_FILES} files included - ignoring the rest",
                )
            self.opened += 1
            return
        self.opened += 1
        data = self.read_bytes(path, where, bool(stack))
        if data is None:
            return
        self.total_bytes += len(data)
        if len(data) > MAX_FILE_BYTES or self.total_bytes > MAX_FILE_BYTES:
            self.too_large(path, where)
            return
        self.files.append(path)
        self.read_text(path, data, (*stack, real))

    def read_bytes(self, path: str, where: Location | None, included: bool) -> bytes | None:
        """The file's bytes, at most MAX_FILE_BYTES + 1; None (reported) if it is no config.

        Opened non-blocking and checked with fstat() on the open file, so that a FIFO does
        not hang the reader (opening it would wait for a writer), a device such as /dev/zero
        is never read, and the file checked is the file read.
        """
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as err:
            self.cannot_read(path, where, included, err)
            return None
        try:
            # Checked on the descriptor before any read: io.open() itself refuses a directory.
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                self.problem(where, Severity.FATAL, f"configuration file '{path}' is a directory")
                return None
            if not stat.S_ISREG(info.st_mode):
                # keepalived logs "is not a regular non-executable file - skipping" for an
                # include and carries on; -t still exits 0. The main file is the config.
                if included:
                    self.problem(
                        where,
                        Severity.WARNING,
                        f"configuration file '{path}' is not a regular file - skipping",
                    )
                else:
                    self.problem(
                        where, Severity.FATAL, f"configuration file '{path}' is not a regular file"
                    )
                return None
            if info.st_size > MAX_FILE_BYTES:
                self.too_large(path, where)  # without reading a byte of it
                return None
            with open(fd, "rb", closefd=False) as handle:
                # +1: a file that grew after fstat() is still caught as too large
                return handle.read(MAX_FILE_BYTES + 1)
        except OSError as err:
            self.cannot_read(path, where, included, err)
            return None
        finally:
            os.close(fd)

    def cannot_read(self, path: str, where: Location | None, included: bool,
                    err: OSError) -> None:
        """Report an unreadable file: an include loses only itself, the main file is all."""
        severity = Severity.ERROR if included else Severity.FATAL
        self.problem(where, severity, f"cannot read configuration file '{path}': {err.strerror}")

    def too_large(self, path: str, where: Location | None) -> None:
        """Report ``path`` as past MAX_FILE_BYTES (alone or with what was read before)."""
        self.problem(
            where,  # the include line, or None for the main file (no line to blame)
            Severity.FATAL,
            f"configuration too large (more than {MAX_FILE_BYTES // (1024 * 1024)} MiB)"
            f" reading '{path}'",
        )

    def read_text(self, path: str, data: bytes, stack: tuple[str, ...]) -> None:
        control = _CONTROL.search(data)
        if control is not None:
            # One clear line instead of one complaint per line of a binary file.
            self.problem(
                Location(path, data.count(b"\n", 0, control.start()) + 1),
                Severity.FATAL,
                f"binary data (byte 0x{control.group()[0]:02x}) - not a text configuration file",
            )
            return
        text = data.decode("utf-8", errors="surrogateescape")
        # A text without any character that needs decommenting, quoting, joining or $/@
        # handling (most configs) is judged once here instead of line by line.
        plain = text.isascii() and _SPECIAL.search(text) is None
        # A continued line's pieces, joined once at its end: rebuilding the line at each
        # piece made a 2 MiB continued line quadratic (77 s).
        pending: list[str] = []
        pending_line = 0
        bad_lines = 0
        lines = self.lines
        append = lines.append
        for number, raw in enumerate(text.split("\n"), start=1):
            if not number & 4095 and len(lines) > MAX_LINES:
                self.over_line_cap()
                return
            if len(raw) <= MAX_LINE and (plain or (
                not pending
                and raw.isascii()
                # chained 'in' tests: several times cheaper than a regex or set test here
                and "#" not in raw
                and "!" not in raw
                and '"' not in raw
                and "\\" not in raw
                and "\r" not in raw
                and "$" not in raw
                and "@" not in raw
            )):
                # Fast path for the common line: nothing to decomment, quote or expand.
                words = raw.split()
                if not words:
                    continue
                if words[0] not in _INCLUDE_VARIANTS:
                    where = _new(Location, (path, number))
                    if "{" not in raw and "}" not in raw:
                        append(_new(Line, (tuple(words), raw.strip(" \t"), where, None)))
                        continue
                    # Braces without quotes: each one a line of its own, as handle() does;
                    # first the usual 'keyword ... {' and a lone brace, without a regex.
                    body = raw.strip(" \t")
                    if body in _BRACE_WORDS:
                        append(_new(Line, (_BRACE_WORDS[body], body, where, None)))
                        if len(lines) > MAX_LINES:
                            self.over_line_cap()
                            return
                        continue
                    if body[-1] == "{" and body.count("{") == 1 and "}" not in body:
                        head = body[:-1].rstrip(" \t")
                        words = head.split()
                        if words:
                            append(_new(Line, (tuple(words), head, where, None)))
                        append(_new(Line, (_BRACE_WORDS["{"], "{", where, None)))
                        if len(lines) > MAX_LINES:
                            self.over_line_cap()
                            return
                        continue
                    for piece in _BRACE_SPLIT.split(raw):
                        piece = piece.strip(" \t")
                        if piece:
                            words = piece.split()
                            if words:
                                append(_new(Line, (tuple(words), piece, where, None)))
                                if len(lines) > MAX_LINES:
                                    self.over_line_cap()
                                    return
                    continue
            raw = raw.rstrip("\r")
            if not raw and not pending:
                continue
            where = Location(path, number)
            split = self.decomment_line(raw, where)
            if split is None:
                bad_lines += 1
                if bad_lines > MAX_BAD_LINES:
                    self.problem(
                        where,
                        Severity.FATAL,
                        f"more than {MAX_BAD_LINES} unreadable lines"
                        " - not a text configuration file",
                    )
                    return
                continue
            body, cont, open_quote = split
            if open_quote:
                self.problem(where, Severity.ERROR, f"unterminated quote in '{raw.strip()}'")
            joined = bool(pending)
            if cont:
                if not pending:
                    pending_line = number
                if body:  # an empty piece adds nothing (and no separating space)
                    pending.append(body)
                continue
            if pending:
                if body:
                    pending.append(body)
                body = " ".join(pending)
                where = Location(path, pending_line)
                pending = []
            if body:
                self.handle(body, where, stack, joined)
                if self.stopped:
                    return
        if pending:
            self.handle(" ".join(pending), Location(path, pending_line), stack, True)
        if len(lines) > MAX_LINES:
            self.over_line_cap()

    def over_line_cap(self) -> None:
        """Stop reading: too many lines for a config, blamed on the first line past the cap."""
        if self.stopped:
            return
        self.stopped = True
        first_over = self.lines[MAX_LINES].where
        del self.lines[MAX_LINES:]
        self.problem(
            first_over,
            Severity.FATAL,
            f"more than {MAX_LINES} lines - not a keepalived configuration",
        )

    def decomment_line(self, raw: str, where: Location) -> tuple[str, bool, bool] | None:
        """:func:`decomment` for one physical line; None (reported) for an unreadable one."""
        if len(raw) > MAX_LINE:
            self.problem(where, Severity.ERROR, "line too long - ignoring")
            return None
        split = decomment(raw)
        # Bytes that are not UTF-8 only matter outside comments: keepalived reads bytes, so a
        # Latin-1 comment is harmless.
        if not split[0].isascii() and not _valid_text(split[0]):
            self.problem(where, Severity.ERROR, "not valid UTF-8 text - ignoring line")
            return None
        return split

    def handle(
        self, body: str, where: Location, stack: tuple[str, ...], joined: bool = False
    ) -> None:
        if "$" in body or body.startswith("@"):
            expanded = self.preprocess(body, where, joined)
            if expanded is None:
                return
            body = expanded
        words = body.split()
        if not words:  # only white space that decomment() does not strip (\v, \f)
            return
        if words[0] in _INCLUDE_VARIANTS:
            self.include(body[len(words[0]) :].strip(), where, stack, words[0])
            return
        if "{" not in body and "}" not in body and '"' not in body:
            self.lines.append(Line(tuple(words), body, where))
            return
        for piece in _brace_pieces(body):
            words, unmatched = split_words(piece)
            if unmatched:
                # a joined piece may be megabytes long: quote its start only
                shown = piece if len(piece) <= 200 else f"{piece[:197]}..."
                self.problem(where, Severity.ERROR, f"unmatched quote: '{shown}'")
            if words:
                self.lines.append(Line(tuple(words), piece, where))
                # one joined line may hold a million braces: stop at the cap, not after
                if len(self.lines) > MAX_LINES:
                    self.over_line_cap()
                    return

    def preprocess(self, body: str, where: Location, joined: bool) -> str | None:
        """``@ID`` selection and ``$NAME`` definitions; None when nothing is left to read."""
        pre = self.pre
        for _ in range(3):  # an expansion may itself start with @ID
            selected = pre.select(body)
            if selected is None:
                return None
            body = selected
            if pre.is_definition(body):
                if joined:
                    self.problem(
                        where,
                        Severity.ERROR,
                        "multi-line $ definitions are not supported - use one line",
                    )
                else:
                    pre.define(body)
                return None
            expanded, finished = pre.expand(body)
            if not finished:
                self.problem(where, Severity.ERROR, "$ definitions expand without end - ignoring")
                return None
            # Each line may grow by MAX_EXPANDED; this bounds what all of them add together.
            self.expanded += max(0, len(expanded) - len(body))
            if self.expanded > MAX_EXPANSION_BYTES:
                self.stopped = True  # like the line cap: one error, and no more lines built
                self.problem(
                    where,
                    Severity.FATAL,
                    "$ definitions expand the configuration by more than"
                    f" {MAX_EXPANSION_BYTES // (1024 * 1024)} MiB - cannot run",
                )
                return None
            if expanded != body:
                # A value may bring a comment or an @ID prefix; keepalived re-reads it.
                body = decomment(expanded)[0]
            if not body.startswith("@"):
                return body or None
        return body

    def include(
        self, pattern: str, where: Location, stack: tuple[str, ...], variant: str = "include"
    ) -> None:
        """Read the files ``pattern`` names, as glob(GLOB_BRACE) would match them.

        At most MAX_INCLUDE_PATTERNS paths per include, counted before they are built (brace
        alternatives) or as they are found (glob matches), and at most MAX_INCLUDE_SCAN
        directory entries and look-ups for all includes of the config; past either the
        include is refused as a whole, with one error, and the rest of the config is still
        read.
        """
        if not pattern:
            self.problem(where, Severity.ERROR, "include: no file name given")
            return
        shown = pattern if len(pattern) <= 60 else f"{pattern[:57]}..."
        if len(pattern) > MAX_INCLUDE_PATH:
            self.problem(
                where,
                Severity.ERROR,
                f"include '{shown}' is longer than {MAX_INCLUDE_PATH} characters - ignored",
            )
            return
        try:
            alternatives = expand_braces(pattern)
        except PatternTooComplex as err:
            self.problem(where, Severity.ERROR, f"include '{shown}' {err} - ignored")
            return
        missing: list[str] = []
        try:
            matches = self.include_matches(alternatives, os.path.dirname(where.file), missing)
        except ScanBudgetExceeded:
            self.problem(
                where,
                Severity.ERROR,
                f"include '{shown}' reads more than {self.scan.limit} directory entries"
                " (all includes together) - ignored",
            )
            return
        if matches is None:
            self.problem(
                where,
                Severity.ERROR,
                f"include '{shown}' expands to more than {MAX_INCLUDE_PATTERNS} paths - ignored",
            )
            return
        if not self.include_found(pattern, where, variant, bool(matches), bool(missing)):
            return
        for match in matches:
            # glob can match directories; keepalived skips them without a word (GLOB_MARK).
            if not os.path.isdir(match):
                self.read_file(match, stack, where)

    def include_found(
        self, pattern: str, where: Location, variant: str, matched: bool, missing: bool
    ) -> bool:
        """Say what keepalived 2.4.3 says of files an include did not find (lib/parser.c,
        open_and_check_glob; 2.2.7 said nothing); False when the include reads nothing."""
        checks = _INCLUDE_CHECKS[variant]
        shown = pattern if len(pattern) <= 200 else f"{pattern[:197]}..."
        if not matched and missing:
            kind = _INCLUDE_B if "{" in pattern else _INCLUDE_M
            severity = Severity.ERROR if checks & kind else Severity.WARNING
            self.problem(where, severity, f"Config files missing '{shown}'.")
        elif not matched and checks & _INCLUDE_W and glob.has_magic(pattern):
            self.problem(where, Severity.ERROR, f"No config files matched '{shown}'.")
        elif matched and missing:
            severity = Severity.ERROR if checks & _INCLUDE_B else Severity.WARNING
            self.problem(where, severity, f'Some config files missing: "{shown}".')
            return not checks & _INCLUDE_B  # includeb/includea: all alternatives, or none
        return matched

    def include_matches(
        self, alternatives: list[str], base: str, missing: list[str] | None = None
    ) -> list[str] | None:
        """The paths an include's alternatives match, each one's sorted as glob(3) does.

        None past MAX_INCLUDE_PATTERNS; ScanBudgetExceeded once the config's includes have
        read MAX_INCLUDE_SCAN entries. Alternatives that name files or directories that are
        not there are added to ``missing`` (see :func:`_is_missing`).
        """
        matches: list[str] = []
        for one in alternatives:
            full = one if os.path.isabs(one) else os.path.join(base, one)
            before = len(matches)
            if glob.has_magic(full):
                # lazily, and no further than one past the cap: a '*' may match a big dir
                room = MAX_INCLUDE_PATTERNS - len(matches)
                found = bounded_iglob(full, self.scan)
                matches.extend(sorted(itertools.islice(found, room + 1)))
            else:
                self.scan.spend()  # 1,024 literal alternatives per include cost a stat each
                if os.path.exists(full):
                    matches.append(full)
            if len(matches) == before and missing is not None and _is_missing(full):
                missing.append(full)
            if len(matches) > MAX_INCLUDE_PATTERNS:
                return None
        return matches


def _is_missing(full: str) -> bool:
    """True when glob(3) with keepalived's GLOB_ALTDIRFUNC hooks would count a missing file or
    directory for an alternative that matched nothing: a plain name is looked up (lstat), and a
    wildcard's fixed leading directory is opened (opendir). A wildcard that reads an existing
    directory and matches nothing there is not "missing", only unmatched."""
    if not glob.has_magic(full):
        return True
    parts = full.split(os.sep)
    fixed = list(itertools.takewhile(lambda part: not glob.has_magic(part), parts))
    if not glob.has_magic(parts[-1]):
        return True  # a plain file name under a wildcard directory: looked up, not there
    return not os.path.isdir(os.sep.join(fixed) or os.sep)


def _valid_text(raw: str) -> bool:
    """False when the line holds bytes that were not UTF-8 (surrogate escapes)."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lex_file(path: str, config_id: str | None = None) -> LexResult:
    """Read ``path`` and everything it includes into logical lines; never raises.

    ``config_id`` selects ``@ID`` lines (keepalived's ``-i``; default the short host name).
    """
    reader = _Reader(config_id)
    reader.read_file(path, (), None)
    return LexResult(tuple(reader.lines), tuple(reader.problems), tuple(reader.files))


def lex_text(text: str, path: str = "<string>", config_id: str | None = None) -> LexResult:
    """Like :func:`lex_file` for text in memory; includes resolve against ``path``'s dir."""
    reader = _Reader(config_id)
    data = text.encode("utf-8", errors="surrogateescape")
    if len(data) > MAX_FILE_BYTES:
        reader.problem(
            None,
            Severity.FATAL,
            f"configuration too large (more than {MAX_FILE_BYTES // (1024 * 1024)} MiB)"
            f" reading '{path}'",
        )
    else:
        reader.files.append(path)
        reader.read_text(path, data, (os.path.realpath(path),))
    return LexResult(tuple(reader.lines), tuple(reader.problems), tuple(reader.files))
