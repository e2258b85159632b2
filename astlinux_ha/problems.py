"""What every check reports: a :class:`Problem` at a :class:`Location` with a :class:`Severity`.

Its own module, below everything that reports problems (the config reader, the script
checks, the host preflight), so that none of them imports another just for these types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple


class Location(NamedTuple):
    """A place in a config file; renders as ``FILE:LINE``.

    A NamedTuple rather than a frozen dataclass: one is made per config line, and a tuple is
    several times cheaper to build (this keeps a 5000-VIP config under the 100 ms budget).
    """

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


NOWHERE = Location("<defaults>", 0)


class Severity(enum.Enum):
    """How bad a problem is; the worst one decides ``-t``'s exit code."""

    WARNING = "warning"  # logged only; the config runs as written (exit 0)
    ERROR = "error"  # a value was ignored or defaulted, but the daemon would run (exit 5)
    FATAL = "fatal"  # the daemon cannot run this config (exit 4)
    SECURITY = "security"  # script security violation (exit 6), raised by astlinux_ha.scripts


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about the config, printed by ``-t`` as ``FILE:LINE: message``."""

    where: Location | None
    severity: Severity
    message: str

    def render(self) -> str:
        """The one-line form ``-t`` prints: ``FILE:LINE: message``.

        Warnings (which leave the exit code at 0) end in `` (warning)``; the tag goes last so
        that ``FILE:LINE: message`` stays greppable whatever the severity.
        """
        place = f"{self.where}: " if self.where is not None else ""
        tag = " (warning)" if self.severity is Severity.WARNING else ""
        return f"{place}{self.message}{tag}"
