"""keepalived.conf text to logical lines of words, the way keepalived's lib/parser.c reads it.

What a line goes through, in keepalived's order:

1. ``#`` and ``!`` start a comment anywhere outside ``"..."``; ``\\#`` and ``\\!`` outside quotes
   stand for the characters themselves. Other backslash escapes are left for later.
2. A trailing ``\\`` joins the next physical line (keepalived itself only does this for
   ``$VAR=`` definitions; joining is a superset that no working keepalived config relies on).
3. ``include GLOB`` (and ``includer``/``m``/``w``/``b``/``a``) is replaced by the matching
   files' lines; relative globs resolve against the including file's directory; no match passes
   silently; a file that includes itself (directly or not) is an error.
4. ``{`` and ``}`` outside quotes are split off onto lines of their own, so ``foo {``,
   ``{`` on the next line and ``value }`` all look alike to the parser.
5. Words are split on white space; a word starting with ``"`` runs to the next ``"`` (no
   escapes at this level: ``notify "/x.sh 'a b'" root`` gives three words).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from .model import Location, Problem, Severity
from .preprocess import Preprocessor

MAX_LINE = 1023  # keepalived's MAXBUF (1024) including the terminating NUL
MAX_FILE_BYTES = 2 * 1024 * 1024  # far above any real config; refuses runaway or junk files
MAX_INCLUDE_DEPTH = 32
# C0 controls other than white space, and DEL: never in a text config, always in binary junk.
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")
MAX_BAD_LINES = 10  # beyond this many unreadable lines the file is junk, not a config
_WHITE = " \t\f\v\r\n"
_INCLUDE_VARIANTS = ("include", "includer", "includem", "includew", "includeb", "includea")


class Line(NamedTuple):
    """One logical line: its words, its decommented text and where it starts."""

    words: tuple[str, ...]
    text: str
    where: Location


@dataclass(frozen=True, slots=True)
class LexResult:
    """Every logical line of a config and its includes, in reading order."""

    lines: tuple[Line, ...]
    problems: tuple[Problem, ...]
    files: tuple[str, ...]


def decomment(text: str) -> tuple[str, bool, bool]:
    """Strip a comment; return (text, continues on next line, has an unterminated quote)."""
    if "#" not in text and "!" not in text and '"' not in text and "\\" not in text:
        return text.strip(" \t"), False, False
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
    i = 0
    n = len(text)
    while True:
        while i < n and text[i] in _WHITE:
            i += 1
        if i >= n:
            return words, False
        if text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                return words, True
            words.append(text[i + 1 : end])
            i = end + 1
        else:
            j = i
            while j < n and text[j] not in _WHITE and text[j] != '"':
                j += 1
            words.append(text[i:j])
            i = j


def _brace_pieces(text: str) -> Iterator[str]:
    """Split ``{`` and ``}`` outside quotes onto pieces of their own."""
    if "{" not in text and "}" not in text:
        yield text
        return
    while text:
        quote = False
        pos = -1
        for i, ch in enumerate(text):
            if ch == '"':
                quote = not quote
            elif not quote and ch in "{}":
                pos = i
                break
        if pos < 0:
            yield text
            return
        if pos > 0:
            yield text[:pos].rstrip(" \t")
            text = text[pos:]
        else:
            yield text[0]
            text = text[1:].lstrip(" \t")


def expand_braces(pattern: str) -> list[str]:
    """csh-style ``{a,b}`` expansion, as glob(GLOB_BRACE) does before matching."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth = 0
    parts: list[str] = []
    last = start + 1
    for i in range(start, len(pattern)):
        ch = pattern[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                parts.append(pattern[last:i])
                head, tail = pattern[:start], pattern[i + 1 :]
                out: list[str] = []
                for part in parts:
                    out.extend(expand_braces(head + part + tail))
                return out
        elif ch == "," and depth == 1:
            parts.append(pattern[last:i])
            last = i + 1
    return [pattern]  # unbalanced: taken literally, as glob does


class _Reader:
    """Reads one config tree; collects lines and problems instead of raising."""

    def __init__(self, config_id: str | None = None) -> None:
        self.pre = Preprocessor(config_id)
        self.lines: list[Line] = []
        self.problems: list[Problem] = []
        self.files: list[str] = []
        self.total_bytes = 0

    def problem(self, where: Location | None, severity: Severity, message: str) -> None:
        self.problems.append(Problem(where, severity, message))

    def read_file(self, path: str, stack: tuple[str, ...], where: Location | None) -> None:
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
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except IsADirectoryError:
            self.problem(where, Severity.FATAL, f"configuration file '{path}' is a directory")
            return
        except OSError as err:
            severity = Severity.FATAL if not stack else Severity.ERROR
            self.problem(
                where, severity, f"cannot read configuration file '{path}': {err.strerror}"
            )
            return
        self.total_bytes += len(data)
        if len(data) > MAX_FILE_BYTES or self.total_bytes > MAX_FILE_BYTES:
            self.problem(
                where,  # the include line, or None for the main file (no line to blame)
                Severity.FATAL,
                f"configuration too large (more than {MAX_FILE_BYTES // (1024 * 1024)} MiB)"
                f" reading '{path}'",
            )
            return
        self.files.append(path)
        self.read_text(path, data, (*stack, real))

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
        pending = ""
        pending_line = 0
        bad_lines = 0
        lines = self.lines
        for number, raw in enumerate(text.split("\n"), start=1):
            if (
                not pending
                and raw.isascii()
                and len(raw) <= MAX_LINE
                # chained 'in' tests: several times cheaper than a regex or set test here
                and "#" not in raw
                and "!" not in raw
                and '"' not in raw
                and "\\" not in raw
                and "{" not in raw
                and "}" not in raw
                and "\r" not in raw
                and "$" not in raw
                and "@" not in raw
            ):
                # Fast path for the common line: nothing to decomment, quote or pair up.
                words = raw.split()
                if words and words[0] not in _INCLUDE_VARIANTS:
                    lines.append(Line(tuple(words), raw.strip(" \t"), Location(path, number)))
                    continue
                if not words:
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
            if pending:
                body = f"{pending} {body}" if body else pending
                where = Location(path, pending_line)
            joined = bool(pending)
            if cont:
                if not pending:
                    pending_line = number
                pending = body
                continue
            pending = ""
            if body:
                self.handle(body, where, stack, joined)
        if pending:
            self.handle(pending, Location(path, pending_line), stack, True)

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
            self.include(body[len(words[0]) :].strip(), where, stack)
            return
        if "{" not in body and "}" not in body and '"' not in body:
            self.lines.append(Line(tuple(words), body, where))
            return
        for piece in _brace_pieces(body):
            words, unmatched = split_words(piece)
            if unmatched:
                self.problem(where, Severity.ERROR, f"unmatched quote: '{piece}'")
            if words:
                self.lines.append(Line(tuple(words), piece, where))

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
            if expanded != body:
                # A value may bring a comment or an @ID prefix; keepalived re-reads it.
                body = decomment(expanded)[0]
            if not body.startswith("@"):
                return body or None
        return body

    def include(self, pattern: str, where: Location, stack: tuple[str, ...]) -> None:
        if not pattern:
            self.problem(where, Severity.ERROR, "include: no file name given")
            return
        base = os.path.dirname(where.file)
        matches: list[str] = []
        for one in expand_braces(pattern):
            full = one if os.path.isabs(one) else os.path.join(base, one)
            if glob.has_magic(full):
                matches.extend(sorted(glob.glob(full)))
            elif os.path.exists(full):
                matches.append(full)
        # glob can match directories; keepalived only opens regular files.
        matches = [m for m in matches if os.path.isfile(m)]
        for match in matches:
            self.read_file(match, stack, where)


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
