"""keepalived's line preprocessing: ``@ID`` conditional lines and ``$NAME=value`` definitions.

- ``@ID rest`` keeps ``rest`` only on the box whose config id is ``ID`` (``-i ID``, default the
  short host name); ``@^ID rest`` keeps it everywhere else. One file can so serve a master and
  a backup.
- ``$NAME=value`` defines a parameter; ``$NAME`` or ``${NAME}`` later on is replaced by the
  value (definitions hold across included files, a later one replaces an earlier one).

Supported subset: single-line definitions. keepalived's multi-line definitions, definitions
with parameters, ``~SEQ``/``~LST`` and its built-in ``$_PWD``-style names are reported as
unsupported rather than half-done.
"""

from __future__ import annotations

import re
import socket

MAX_EXPANSIONS = 20  # a definition that refers to itself would otherwise never end
MAX_EXPANDED = 4096  # growth allowed: keepalived stops at its line buffer; $A=$A$A stops here
# (per line: the lexer bounds what all lines together may add, lexer.MAX_EXPANSION_BYTES)

_DEFINITION = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\Z", re.DOTALL)
# $NAME ends at white space, ',', ')' or the end; ${NAME} is delimited by its braces.
_REFERENCE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)(?=[\s,)]|\Z))")


def default_config_id() -> str:
    """keepalived's default config id: the host name up to the first dot."""
    return socket.gethostname().split(".", 1)[0]


class Preprocessor:
    """Applies ``@ID`` selection and ``$NAME`` definitions to decommented logical lines."""

    def __init__(self, config_id: str | None = None) -> None:
        self.config_id = default_config_id() if config_id is None else config_id
        self.definitions: dict[str, str] = {}
        self.longest = 0  # no value is longer (an upper bound: a redefinition may be shorter)

    def select(self, body: str) -> str | None:
        """The line without its ``@ID`` prefix, or None when it is not for this box."""
        if not body.startswith("@"):
            return body
        reverse = body.startswith("@^")
        head, _, rest = body[2 if reverse else 1 :].partition(" ")
        if "\t" in head:
            head, _, more = head.partition("\t")
            rest = f"{more} {rest}".strip()
        rest = rest.strip(" \t")
        if not rest:
            return None  # keepalived needs something after the id
        return rest if (head == self.config_id) != reverse else None

    def is_definition(self, body: str) -> bool:
        """True for a ``$NAME=value`` line."""
        return body.startswith("$") and _DEFINITION.match(body) is not None

    def define(self, body: str) -> tuple[str, str] | None:
        """Record ``$NAME=value``; returns (name, value), or None if this is no definition."""
        match = _DEFINITION.match(body)
        if match is None:
            return None
        name, value = match.group(1), match.group(2).strip(" \t")
        self.definitions[name] = value
        self.longest = max(self.longest, len(value))
        return name, value

    def expand(self, body: str) -> tuple[str, bool]:
        """Replace known ``$NAME``/``${NAME}``; the bool is False when expansion ran away.

        The text may grow by at most MAX_EXPANDED characters over all rounds, and each round
        stops building as soon as it passes that budget: a joined line of 200,000
        references to a long value would otherwise be built whole (100 MB) before the
        length is looked at.
        """
        if "$" not in body or not self.definitions:
            return body, True
        budget = len(body) + MAX_EXPANDED
        for _ in range(MAX_EXPANSIONS):
            expanded = self._expand_once(body, budget)
            if expanded is None:
                break
            if expanded == body:
                return body, True
            body = expanded
        return body, False

    def _expand_once(self, body: str, budget: int) -> str | None:
        """One round of replacements, or None once the result would pass ``budget``."""
        if len(body) + body.count("$") * self.longest <= budget:
            return _REFERENCE.sub(self._value, body)  # cannot pass the budget: the quick way
        out: list[str] = []
        size = 0
        last = 0
        for match in _REFERENCE.finditer(body):
            value = self._value(match)
            size += match.start() - last + len(value)
            if size > budget:
                return None
            out.append(body[last : match.start()])
            out.append(value)
            last = match.end()
        if not out:
            return body
        out.append(body[last:])
        return "".join(out)

    def _value(self, match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return self.definitions.get(name, match.group(0))
