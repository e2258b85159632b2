"""Logical lines to a tree of statements: a keyword line followed by ``{`` owns a block.

This stage knows nothing about keywords; it only pairs braces, exactly as keepalived's reader
sees them after :mod:`.lexer` split them onto their own lines. Unbalanced braces are reported
here with the line of the block that is missing its ``}``.

Unbalanced braces are fatal. keepalived's lib/parser.c counts them as it reads ("Extra '}'
found", and at the end "There are N missing '}'s or extra '{'s"); keepalived 2.4.3 will not
run a config with an extra ``}`` (measured on AstLinux). That ``}`` closed a block early, so
what followed it was read at the wrong level: the config does not run as written, whichever
part is dropped. A ``}`` missing at the end is the same mistake seen from the other side (the
block swallowed everything after it) and lib/parser.c reports it at the same level; whether
2.4.3 refuses it too was not measured, so it is refused as well.
"""

from __future__ import annotations

from collections.abc import Sequence

from astlinux_ha.problems import Location, Problem, Severity

from .lexer import Line, Statement

# keepalived's deepest real block is ~5 levels (virtual_server > real_server > HTTP_GET > url);
# past this, a block is skipped whole with one error instead of one per unclosed level.
MAX_BLOCK_DEPTH = 32
# A block owner's copy built without NamedTuple's Python-level _replace.
_new = tuple.__new__


def parse_lines(
    lines: Sequence[Line], truncated: bool = False
) -> tuple[tuple[Statement, ...], tuple[Problem, ...]]:
    """Pair the braces in ``lines``; return the top-level statements and brace problems.

    ``truncated``: the reader stopped early (already fatal), so blocks still open at the end
    are its doing, not the config's, and are closed without a word.
    """
    problems: list[Problem] = []
    current: list[Statement] = []
    # Each open block: the list it sits in and its owner (None for a stray '{').
    stack: list[tuple[list[Statement], Statement | None]] = []
    opened: list[Location] = []  # where each open block's '{' is, stray ones included
    can_open = False  # True right after a plain statement: a '{' now opens its block
    skipping = 0  # '{' levels open inside a block skipped for being nested too deep
    skipped: Statement | None = None  # the line that opened the skipped block
    for line in lines:
        words, _, where, _ = line
        first = words[0]
        is_open = first == "{" and len(words) == 1
        if skipping:
            if is_open:
                skipping += 1
            elif first == "}" and len(words) == 1:
                skipping -= 1
            continue
        if is_open and len(stack) >= MAX_BLOCK_DEPTH:
            skipped = current[-1] if can_open else line
            problems.append(
                Problem(
                    skipped.where,
                    Severity.ERROR,
                    f"blocks nested more than {MAX_BLOCK_DEPTH} deep - ignoring this block",
                )
            )
            if can_open:
                current.pop()
            skipping = 1
            can_open = False
        elif is_open:
            owner: Statement | None = None
            if can_open:
                owner = current.pop()
            else:
                problems.append(Problem(where, Severity.ERROR, "unexpected '{' - ignoring"))
            stack.append((current, owner))
            opened.append(where)
            current = []
            can_open = False
        elif first == "}" and len(words) == 1:
            if not stack:
                problems.append(
                    Problem(
                        where,
                        Severity.FATAL,
                        "extra '}' found - it ends the enclosing block early; cannot run",
                    )
                )
            else:
                current = _close(stack, current)
                opened.pop()
            can_open = False
        else:
            current.append(line)  # as read: a Line is a Statement without a block
            can_open = True
    if skipping and skipped is not None and not truncated:
        problems.append(
            Problem(
                skipped.where,
                Severity.FATAL,
                f"missing '}}' at the end of block '{' '.join(skipped.words)}' - cannot run",
            )
        )
    while stack:
        owner = stack[-1][1]
        brace = opened.pop()
        if not truncated:
            problems.append(
                Problem(
                    owner.where if owner is not None else brace,
                    Severity.FATAL,
                    f"missing '}}' at the end of block '{' '.join(owner.words)}' - cannot run"
                    if owner is not None
                    else "missing '}' for the '{' here - cannot run",
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
        enclosing.append(_new(Statement, (owner.words, owner.text, owner.where, tuple(children))))
    return enclosing
