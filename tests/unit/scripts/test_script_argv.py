"""split_command splits like keepalived's alloc_strvec_quoted_escaped."""

from __future__ import annotations

import pytest

from astlinux_ha.config.argv import CommandSyntaxError, split_command


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("/x.sh a 'b c'", ["/x.sh", "a", "b c"]),
        ('/x.sh "a b" c', ["/x.sh", "a b", "c"]),
        ("/x.sh   a\tb", ["/x.sh", "a", "b"]),
        ("  /x.sh  ", ["/x.sh"]),
        ("/x.sh pre'mid dle'post", ["/x.sh", "premid dlepost"]),
        ("/x.sh 'it\"s'", ["/x.sh", 'it"s']),
        ("/x.sh a\\ b", ["/x.sh", "a b"]),
        ("/x.sh \\n\\t\\x41\\101\\cA", ["/x.sh", "\n\tAA\x01"]),
        ("/x.sh 'a\\'b'", ["/x.sh", "a'b"]),
        ("/x.sh ''", ["/x.sh", ""]),
        ("/x.sh \\q", ["/x.sh", "q"]),
    ],
)
def test_split(text: str, argv: list[str]) -> None:
    assert split_command(text) == argv


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/x.sh 'open", "String '/x.sh 'open': missing terminating '"),
        ('/x.sh "open', "String '/x.sh \"open': missing terminating \""),
        ("/x.sh a\\", "Missing escape char at end: '/x.sh a\\'"),
        ("   ", "Unable to parse script '   ' - ignoring"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(CommandSyntaxError) as info:
        split_command(text)
    assert str(info.value) == message
