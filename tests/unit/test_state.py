import json
import logging
import os

import pytest

from astlinux_ha import state
from astlinux_ha.state import StateDir


@pytest.fixture
def logger():
    return logging.getLogger("test-state")


def test_status_is_replaced_atomically(tmp_path, logger):
    sd = StateDir(tmp_path, logger)
    sd.write_status({"VI_1": {"state": "BACKUP"}})
    sd.write_status({"VI_1": {"state": "MASTER"}})
    assert json.loads((tmp_path / "status.json").read_text())["VI_1"]["state"] == "MASTER"
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_transitions_append_one_line_each(tmp_path, logger):
    sd = StateDir(tmp_path, logger)
    sd.append_transition({"instance": "VI_1", "from": "BACKUP", "to": "MASTER"})
    sd.append_transition({"instance": "VI_1", "from": "MASTER", "to": "FAULT"})
    lines = (tmp_path / "transitions.jsonl").read_text().splitlines()
    assert [json.loads(x)["to"] for x in lines] == ["MASTER", "FAULT"]


def test_transitions_rotate(tmp_path, logger, monkeypatch):
    monkeypatch.setattr(state, "TRANSITIONS_MAX_BYTES", 100)
    sd = StateDir(tmp_path, logger)
    for i in range(10):
        sd.append_transition({"n": i, "pad": "x" * 20})
    assert (tmp_path / "transitions.jsonl.1").exists()
    assert (tmp_path / "transitions.jsonl").stat().st_size < 200


def test_failure_logged_once_then_recovers(tmp_path, logger, caplog):
    target = tmp_path / "gone"
    sd = StateDir(target, logger)  # directory does not exist: every write fails
    with caplog.at_level(logging.INFO, logger="test-state"):
        for i in range(5):
            sd.write_status({"n": i})
            sd.flush()
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "cannot write status" in errors[0].getMessage()
        os.mkdir(target)
        sd.flush()  # the last status comes back once space returns
    assert json.loads((target / "status.json").read_text()) == {"n": 4}
    assert any("writing status again" in r.getMessage() for r in caplog.records)


def test_dump_returns_path(tmp_path, logger):
    sd = StateDir(tmp_path, logger)
    path = sd.write_dump(state.DATA_FILE, "hello\n")
    assert path == tmp_path / "keepalived.data" and path.read_text() == "hello\n"
