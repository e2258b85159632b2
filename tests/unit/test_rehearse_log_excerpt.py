"""The log excerpt a rehearsal's failure shows: repeated drop lines do not hide the state lines
before them (keepalived logs every dropped advert; CI once saw only ten of those)."""

from __future__ import annotations

from lab import diagnose


def test_a_message_repeated_back_to_back_is_one_line_with_its_count():
    log = "\n".join(
        ["Wed Dec  2 00:39:19 2026: (VI_1) Entering BACKUP STATE (init)",
         "Wed Dec  2 00:39:20 2026: (VI_1) Entering MASTER STATE",
         "Wed Dec  2 00:39:20 2026: (VI_2) Entering MASTER STATE"]
        + [f"Wed Dec  2 00:39:{21 + i} 2026: (VI_1) unicast source address 10.0.0.1 not a "
           "unicast peer" for i in range(14)]
        + ["Wed Dec  2 00:39:40 2026: (VI_1) Entering BACKUP STATE"])
    assert diagnose.log_lines(log, "VI_1") == [
        "Wed Dec  2 00:39:19 2026: (VI_1) Entering BACKUP STATE (init)",
        "Wed Dec  2 00:39:20 2026: (VI_1) Entering MASTER STATE",
        "Wed Dec  2 00:39:34 2026: (VI_1) unicast source address 10.0.0.1 not a unicast peer"
        " (x14)",
        "Wed Dec  2 00:39:40 2026: (VI_1) Entering BACKUP STATE"]
    assert len(diagnose.log_lines(log, "VI_1", limit=2)) == 2
