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


class _Node:
    __slots__ = ("line", "children")

    def __init__(self, line: Line | None) -> None:
        self.line = line
        self.children: list[_Node] | None = None

    def freeze(self) -> Statement:
        assert self.line is not None
        block = None
        if self.children is not None:
            block = tuple(c.freeze() for c in self.children if c.line is not None)
        return Statement(self.line.words, self.line.text, self.line.where, block)


def parse_lines(lines: Sequence[Line]) -> tuple[tuple[Statement, ...], tuple[Problem, ...]]:
    """Pair the braces in ``lines``; return the top-level statements and brace problems."""
    problems: list[Problem] = []
    top: list[_Node] = []
    stack: list[tuple[list[_Node], _Node | None]] = []  # (enclosing list, owner of the block)
    current = top
    previous: _Node | None = None  # the node a '{' on the next line would open
    for line in lines:
        first = line.words[0]
        if first == "{" and len(line.words) == 1:
            if previous is None or previous.children is not None:
                problems.append(Problem(line.where, Severity.ERROR, "unexpected '{' - ignoring"))
                owner = _Node(None)  # a throwaway block keeps the braces paired
            else:
                owner = previous
            owner.children = []
            stack.append((current, owner))
            current = owner.children
            previous = None
            continue
        if first == "}" and len(line.words) == 1:
            if not stack:
                problems.append(Problem(line.where, Severity.ERROR, "extra '}' found - ignoring"))
            else:
                current, _owner = stack.pop()
            previous = None
            continue
        node = _Node(line)
        current.append(node)
        previous = node
    for _enclosing, owner in reversed(stack):
        if owner is not None and owner.line is not None:
            problems.append(
                Problem(
                    owner.line.where,
                    Severity.ERROR,
                    f"missing '}}' at the end of block '{' '.join(owner.line.words)}'",
                )
            )
    return tuple(n.freeze() for n in top), tuple(problems)
