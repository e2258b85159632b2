import io
import json
import os

import pytest

from astlinux_ha.status_table import (
    MAX_BYTES,
    StatusFileError,
    escape,
    print_status,
    read_bounded,
    render,
)

STATUS = {
    "instances": {
        "VI_2": {"state": "BACKUP", "priority": 99, "effective_priority": 89,
                 "vips": ["10.10.60.1", "10.10.60.2"], "master": "10.10.50.62",
                 "since": "2026-11-25T08:00:00+00:00"},
        "VI_1": {"state": "MASTER", "priority": 100, "effective_priority": 100,
                 "vips": ["10.10.50.244"], "master": "10.10.50.62",
                 "since": "2026-11-25T08:00:01+00:00"},
    }
}


def test_render_rows_sorted_and_aligned():
    lines = render(STATUS).splitlines()
    assert lines[0].split() == ["INSTANCE", "STATE", "PRIORITY", "VIPS", "MASTER", "SINCE"]
    assert lines[1].split() == ["VI_1", "MASTER", "100", "10.10.50.244", "10.10.50.62",
                                "2026-11-25T08:00:01+00:00"]
    # A tracked priority change shows effective and configured priority.
    assert "89 (99)" in lines[2] and "10.10.60.1,10.10.60.2" in lines[2]
    assert lines[1].index("MASTER") == lines[2].index("BACKUP")


def test_print_status_missing_file_is_not_running(tmp_path):
    assert print_status(str(tmp_path), io.StringIO()) == 3


def test_print_status_reads_file(tmp_path):
    (tmp_path / "status.json").write_text(json.dumps(STATUS))
    out = io.StringIO()
    assert print_status(str(tmp_path), out) == 0
    assert "VI_1" in out.getvalue()


def test_escape_control_characters_keeps_printable_unicode():
    assert escape("VI_1\x1b[2J\x1b]0;owned\x07") == "VI_1\\x1b[2J\\x1b]0;owned\\x07"
    assert escape("a\r\nb\tc\x7f\x9b") == "a\\r\\nb\\tc\\x7f\\x9b"
    assert escape("r\u202eevil") == "r\\u202eevil"  # a bidi override reorders the line
    assert escape("café 東京") == "café 東京"
    # A literal backslash is doubled, so an escape shown is always an escape made.
    assert escape("a\\x1b") == "a\\\\x1b"


def test_render_escapes_every_cell_and_keeps_one_line_per_instance():
    hostile = {"instances": {
        "VI\x1b[31m_1\nVI_9  MASTER": {
            "state": "MASTER\x1b[0m", "priority": 100, "effective_priority": 100,
            "vips": ["10.0.0.1\r", 7], "master": "\x1b]52;c;ZWNobw==\x07",
            "since": "now\x00"},
        "VI_2": "not an object",
    }}
    text = render(hostile)
    assert "\x1b" not in text and "\r" not in text and "\x00" not in text
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[1].startswith("VI\\x1b[31m_1\\nVI_9  MASTER")
    assert "10.0.0.1\\r,7" in lines[1] and "\\x1b]52;c;ZWNobw==\\x07" in lines[1]


def _one_error_line(capsys, code: int, *words: str) -> None:
    assert code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("astlinux-ha: cannot read "), err
    for word in words:
        assert word in err, err


def test_print_status_refuses_a_symlink(tmp_path, capsys):
    secret = tmp_path / "secret"
    secret.write_text('{"instances": {"root:$6$hash": {}}}')
    (tmp_path / "status.json").symlink_to(secret)
    out = io.StringIO()
    _one_error_line(capsys, print_status(str(tmp_path), out), "symbolic link")
    assert out.getvalue() == ""


def test_print_status_refuses_a_fifo_without_blocking(tmp_path, capsys):
    os.mkfifo(tmp_path / "status.json")
    _one_error_line(capsys, print_status(str(tmp_path), io.StringIO()), "not a regular file")


def test_print_status_refuses_a_file_over_the_cap(tmp_path, capsys):
    with open(tmp_path / "status.json", "wb") as fh:
        fh.truncate(MAX_BYTES + 1)  # sparse: no disk used
    _one_error_line(capsys, print_status(str(tmp_path), io.StringIO()), f"{MAX_BYTES} bytes")


def test_read_bounded_catches_a_file_that_grows_past_the_limit(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    assert read_bounded(path, limit=11) == b"x" * 11
    with pytest.raises(StatusFileError):
        read_bounded(path, limit=10)


@pytest.mark.parametrize("content", ["[1, 2]", "{not json", "\xff"])
def test_print_status_bad_content_is_one_line(tmp_path, capsys, content):
    (tmp_path / "status.json").write_bytes(content.encode("latin-1"))
    _one_error_line(capsys, print_status(str(tmp_path), io.StringIO()))


def test_print_status_refuses_a_hard_link(tmp_path, capsys):
    # A user in the shared state dir links a file only root may read (protected_hardlinks
    # off): no symlink, a regular file, ours; only its second name gives it away.
    secret = tmp_path / "secret"
    secret.write_text(json.dumps(STATUS))
    secret.chmod(0o600)
    os.link(secret, tmp_path / "status.json")
    out = io.StringIO()
    _one_error_line(capsys, print_status(str(tmp_path), out), "hard link")
    assert out.getvalue() == ""
    with pytest.raises(StatusFileError, match="hard link"):
        read_bounded(secret)  # the same inode under its own name: two names all the same


@pytest.mark.root
def test_print_status_refuses_a_file_someone_else_owns(tmp_path, capsys):
    (tmp_path / "status.json").write_text(json.dumps(STATUS))
    os.chown(tmp_path / "status.json", 65534, 65534)  # planted by user nobody
    out = io.StringIO()
    _one_error_line(capsys, print_status(str(tmp_path), out), "owned by uid 65534")
    assert out.getvalue() == ""


def test_a_file_of_ours_with_one_name_is_read(tmp_path):
    path = tmp_path / "status.json"
    path.write_text("{}")
    assert os.stat(path).st_nlink == 1 and read_bounded(path) == b"{}"


def test_the_running_configs_problems_are_said_after_the_table():
    status = {"instances": {"VI_1": {"state": "MASTER", "priority": 100,
                                     "effective_priority": 100, "vips": [], "since": "t"}},
              "problems": [f"/k.conf:{n}: unknown keyword 'x{n}'" for n in range(7)]}
    text = render(status)
    assert "7 configuration problem(s)" in text
    assert "/k.conf:0: unknown keyword 'x0'" in text and "/k.conf:4:" in text
    assert "/k.conf:5:" not in text and "... and 2 more" in text
    assert "problem" not in render({**status, "problems": []})


def test_problem_lines_are_escaped_too():
    text = render({"instances": {}, "problems": ["bad\x1b[2Jline"]})
    assert "\x1b" not in text and "bad\\x1b[2Jline" in text
