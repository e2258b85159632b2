"""Split a configured script command into argv exactly as keepalived does.

keepalived tokenises a config line with quotes and escapes, then splits the script token once
more (``alloc_strvec_quoted_escaped``): unquoted white space separates words, ``"..."`` and
``'...'`` group (the quotes are removed and may sit inside a word), and backslash escapes
work everywhere except that inside quotes only the matching quote and ``\\`` end a run of
literal text. The parser hands us the script token; this is that second split.
"""

from __future__ import annotations

import re
import string

WHITE_SPACE = " \t\f\n\r\v"
# Printable ASCII but quotes and backslash, and WHITE_SPACE: what str.split() splits the
# same way (it also splits at \x1c-\x1f and non-ASCII space, which are not matched).
_PLAIN = re.compile(r"[\t-\r !#-&(-\[\]-~]*")

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


class CommandSyntaxError(ValueError):
    """The command cannot be split; the message is keepalived's wording."""


def _escape(text: str, pos: int) -> tuple[str, int]:
    """Decode the escape whose character (after the backslash) is at ``pos``."""
    ch = text[pos]
    if ch == "x" and pos + 1 < len(text) and text[pos + 1] in string.hexdigits:
        pos += 1
        value = 0
        while pos < len(text) and text[pos] in string.hexdigits:
            value = ((value << 4) | int(text[pos], 16)) & 0xFF  # C char arithmetic wraps
            pos += 1
        return chr(value), pos
    if ch == "c" and pos + 1 < len(text):
        return chr(ord(text[pos + 1]) & 0x1F), pos + 2
    if "0" <= ch <= "7":
        value = int(ch)
        pos += 1
        for _ in range(2):
            if pos < len(text) and "0" <= text[pos] <= "7":
                value = ((value << 3) + int(text[pos])) & 0xFF
                pos += 1
        return chr(value), pos
    return _SIMPLE_ESCAPES.get(ch, ch), pos + 1


def split_command(text: str) -> list[str]:
    """Split ``text`` into argv; ``/x.sh a 'b c'`` gives ``['/x.sh', 'a', 'b c']``.

    Raises CommandSyntaxError for an unmatched quote, a trailing backslash, or nothing at all.
    """
    if _PLAIN.fullmatch(text):
        # Nothing quoted or escaped, no NUL: the words are what str.split() gives (its extra
        # white space, \x1c-\x1f and non-ASCII, is ruled out by the pattern).
        words = text.split()
        if not words:
            raise CommandSyntaxError(f"Unable to parse script '{text}' - ignoring")
        return words
    words = []
    pos = 0
    length = len(text)
    while pos < length:
        while pos < length and text[pos] in WHITE_SPACE:
            pos += 1
        if pos >= length:
            break
        word: list[str] = []
        quote = ""
        while pos < length:
            ch = text[pos]
            if ch == "\\":
                pos += 1
                if pos >= length:
                    raise CommandSyntaxError(f"Missing escape char at end: '{text}'")
                decoded, pos = _escape(text, pos)
                word.append(decoded)
            elif quote:
                pos += 1
                if ch == quote:
                    quote = ""
                else:
                    word.append(ch)
            elif ch in "\"'":
                quote = ch
                pos += 1
            elif ch in WHITE_SPACE:
                break
            else:
                word.append(ch)
                pos += 1
        if quote:
            raise CommandSyntaxError(f"String '{text}': missing terminating {quote}")
        # keepalived copies the word with strndup, so an escaped NUL ends it.
        words.append("".join(word).split("\0", 1)[0])
    if not words:
        raise CommandSyntaxError(f"Unable to parse script '{text}' - ignoring")
    return words
