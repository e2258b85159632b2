"""keepalived.conf: read, check, and hand a typed model to the daemon.

Public API::

    load(path, config_id=None) -> Config  # raises ConfigError when the config cannot run
    check(path) -> CheckResult            # never raises: the config (if any) and every problem
    exit_code(problems) -> int            # -t's code: 0 ok, 4 fatal, 6 security, 5 error
    ConfigError(problems)                 # .problems: the Problem list, each FILE:LINE: message

Stages: :mod:`.lexer` (text to logical lines, includes; :mod:`.preprocess` does ``@ID`` lines
and ``$NAME`` definitions) -> :mod:`.parser` (brace pairing) -> :mod:`.build` (keywords to
:mod:`.model` dataclasses) -> :mod:`.checks` (keepalived's limits and derived values).
Nothing here looks at the host beyond the files read: what only this host can answer (script
security, users, interfaces, the firewall) is :mod:`astlinux_ha.preflight`'s, which ``-t``
adds.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from astlinux_ha.problems import Location, Problem, Severity

from .build import build
from .checks import complete
from .lexer import LexResult, lex_file, lex_text
from .model import Config
from .parser import parse_lines
from .unsupported import ignored_settings
from .values import Reporter

EXIT_OK = 0
EXIT_FATAL = 4
EXIT_ERRORS = 5
EXIT_SECURITY = 6


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of reading a config: the model (None if unreadable) and all problems."""

    config: Config | None
    problems: tuple[Problem, ...]

    @property
    def exit_code(self) -> int:
        """What ``-t`` exits with for these problems."""
        return exit_code(self.problems)

    @property
    def runnable(self) -> bool:
        """True unless a problem stops the daemon from running this config."""
        return self.config is not None and not any(
            p.severity is Severity.FATAL for p in self.problems
        )


class ConfigError(Exception):
    """The config cannot run; ``problems`` lists every finding (fatal ones included)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        fatal = [p for p in self.problems if p.severity is Severity.FATAL] or list(self.problems)
        super().__init__("; ".join(p.render() for p in fatal[:5]))


def exit_code(problems: Iterable[Problem]) -> int:
    """Fatal (4) over security (6) over errors (5); warnings alone are 0.

    keepalived keeps the highest-numbered problem class, where a security violation outranks
    every config error; "cannot run" is put first here so that 4 always means it.
    """
    severities = {p.severity for p in problems}
    if Severity.FATAL in severities:
        return EXIT_FATAL
    if Severity.SECURITY in severities:
        return EXIT_SECURITY
    if Severity.ERROR in severities:
        return EXIT_ERRORS
    return EXIT_OK


def _finish(path: str, lexed: LexResult) -> CheckResult:
    # A fatal reader problem (too large, junk, an include loop...) may stop it mid-block.
    truncated = any(p.severity is Severity.FATAL for p in lexed.problems)
    statements, brace_problems = parse_lines(lexed.lines, truncated)
    rep = Reporter()
    raw = build(statements, path, lexed.files, rep)
    config, check_problems = complete(raw)
    problems = (
        *lexed.problems, *brace_problems, *rep.problems, *ignored_settings(raw), *check_problems
    )
    if not lexed.files:
        return CheckResult(None, problems)
    return CheckResult(config, problems)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC: parsing makes many small acyclic objects, and collections
    triggered by them cost a third of the parse time of a big config."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check(path: str, *, config_id: str | None = None) -> CheckResult:
    """Read ``path`` (and its includes) and report every problem; never raises.

    ``config_id`` picks the ``@ID`` lines (keepalived's ``-i``; default the short host name).
    ``astlinux_ha.preflight.check`` adds the checks against this host that ``-t`` makes.
    """
    with _no_gc():
        return _finish(path, lex_file(path, config_id))


def check_text(text: str, path: str = "<string>", config_id: str | None = None) -> CheckResult:
    """:func:`check` for text in memory (tests, reload dry-runs); includes resolve from ``path``."""
    with _no_gc():
        return _finish(path, lex_text(text, path, config_id))


def load(path: str, config_id: str | None = None) -> Config:
    """Read ``path`` into a :class:`Config`; ConfigError if it cannot run."""
    result = check(path, config_id=config_id)
    if not result.runnable or result.config is None:
        raise ConfigError(result.problems)
    return result.config


__all__ = [
    "CheckResult",
    "Config",
    "ConfigError",
    "Location",
    "Problem",
    "Severity",
    "check",
    "check_text",
    "exit_code",
    "load",
]
