"""split_command's words for commands without quotes or escapes: keepalived splits at its six
white space characters only, where Python's str.split() also splits at others."""

from __future__ import annotations

import pytest

from astlinux_ha.config.argv import CommandSyntaxError, split_command


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("/x.sh a\vb\fc\rd\ne", ["/x.sh", "a", "b", "c", "d", "e"]),
        ("/x.sh a\x1cb", ["/x.sh", "a\x1cb"]),  # str.split() would make two words
        ("/x.sh a\x1fb", ["/x.sh", "a\x1fb"]),
        ("/x.sh a\xa0b", ["/x.sh", "a\xa0b"]),
        ("/x.sh a\u2003b", ["/x.sh", "a\u2003b"]),
        ("/x.sh a\x00b c", ["/x.sh", "a", "c"]),  # a NUL ends its word (strndup)
        ("/x.sh !#$%&()*+,-./:;<=>?@[]^_`{|}~", ["/x.sh", "!#$%&()*+,-./:;<=>?@[]^_`{|}~"]),
    ],
)
def test_plain_words(text: str, argv: list[str]) -> None:
    assert split_command(text) == argv


def test_only_white_space_is_no_command() -> None:
    with pytest.raises(CommandSyntaxError, match="Unable to parse script"):
        split_command(" \t\v\f")
