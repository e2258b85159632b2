import io
import json

from astlinux_ha.status_table import print_status, render

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
