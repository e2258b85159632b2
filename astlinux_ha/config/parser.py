"""Logical lines to a tree of statements: a keyword line followed by ``{`` owns a block.

This stage knows nothing about keywords; it only pairs braces, exactly as keepalived's reader
sees them after :mod:`.lexer` split them onto their own lines. Unbalanced braces are reported
here with the line of the block that is missing its ``}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from .lexer import Line
from .model import Location, Problem, Severity


class Statement(NamedTuple):
    """A keyword line with its arguments and, when followed by ``{ ... }``, its block."""

    words: tuple[str, ...]
    text: str
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


def parse_lines(lines: Sequence[Line]) -> tuple[tuple[Statement, ...], tuple[Problem, ...]]:
    """Pair the braces in ``lines``; return the top-level statements and brace problems."""
    problems: list[Problem] = []
    current: list[Statement] = []
    # Each open block: the list it sits in and its owner (None for a stray '{').
    stack: list[tuple[list[Statement], Statement | None]] = []
    can_open = False  # True right after a plain statement: a '{' now opens its block
    for words, text, where in lines:
        first = words[0]
        if first == "{" and len(words) == 1:
            owner: Statement | None = None
            if can_open:
                owner = current.pop()
            else:
                problems.append(Problem(where, Severity.ERROR, "unexpected '{' - ignoring"))
            stack.append((current, owner))
            current = []
            can_open = False
        elif first == "}" and len(words) == 1:
            if not stack:
                problems.append(Problem(where, Severity.ERROR, "extra '}' found - ignoring"))
            else:
                current = _close(stack, current)
            can_open = False
        else:
            current.append(Statement(words, text, where))
            can_open = True
    while stack:
        owner = stack[-1][1]
        if owner is not None:
            problems.append(
                Problem(
                    owner.where,
                    Severity.ERROR,
                    f"missing '}}' at the end of block '{' '.join(owner.words)}'",
                )
            )
        current = _close(stack, current)
    return tuple(current), tuple(problems)


def _close(
    stack: list[tuple[list[Statement], Statement | None]], children: list[Statement]
) -> list[Statement]:
    """End the innermost block; its statements become the owner's block."""
    enclosing, owner = stack.pop()
    if owner is not None:
        enclosing.append(owner._replace(block=tuple(children)))
    return enclosing
