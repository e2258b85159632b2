import json
import logging
import os
import stat

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


def test_status_is_one_sorted_line_from_the_c_encoder(tmp_path, logger, monkeypatch):
    # Issue 16: the pure-Python encoder (what indent= selects) is ~5x slower on 200 instances.
    def pure_python(*args, **kwargs):
        raise AssertionError("status.json went through json's pure-Python encoder")

    monkeypatch.setattr(json.encoder, "_make_iterencode", pure_python)
    sd = StateDir(tmp_path, logger)
    sd.write_status({"instances": {"VI_2": {"vips": ["10.0.0.2"]}, "VI_1": {"state": "MASTER"}},
                     "config": tmp_path / "keepalived.conf"})
    text = (tmp_path / "status.json").read_text()
    assert text == ('{"config":"%s","instances":{"VI_1":{"state":"MASTER"},'
                    '"VI_2":{"vips":["10.0.0.2"]}}}\n' % (tmp_path / "keepalived.conf"))


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


# ---------------------------------------------------------------- planted files (issue 13)


@pytest.fixture
def victim(tmp_path):
    """A file elsewhere that a planted link points at: it must never change."""
    path = tmp_path / "victim"
    path.write_text("root:secret\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def shared_dir(tmp_path):
    """A state dir the admin made group- and world-writable for scripts."""
    path = tmp_path / "state"
    path.mkdir()
    path.chmod(0o777)
    return path


@pytest.mark.parametrize("name", [state.DATA_FILE, state.STATS_FILE, state.STATUS_FILE])
def test_a_planted_symlink_is_replaced_not_followed(shared_dir, victim, logger, name):
    (shared_dir / name).symlink_to(victim)
    sd = StateDir(shared_dir, logger)
    if name == state.STATUS_FILE:
        sd.write_status({"n": 1})
    else:
        assert sd.write_dump(name, "dump\n") == shared_dir / name
    assert victim.read_text() == "root:secret\n"
    target = shared_dir / name
    assert not target.is_symlink() and target.stat().st_uid == os.geteuid()


@pytest.mark.parametrize("plant", ["symlink", "hardlink", "fifo", "foreign"])
def test_the_journal_is_never_appended_through_a_planted_file(shared_dir, victim, logger,
                                                              plant):
    journal = shared_dir / state.TRANSITIONS_FILE
    if plant == "symlink":
        journal.symlink_to(victim)
    elif plant == "hardlink":
        os.link(victim, journal)
    elif plant == "fifo":
        os.mkfifo(journal)  # no reader: a blocking open would hang the daemon's loop
    else:
        journal.write_text("planted\n")
        os.chown(journal, 65534, 65534)
    sd = StateDir(shared_dir, logger)
    sd.append_transition({"to": "MASTER"})
    assert victim.read_text() == "root:secret\n"
    st = journal.lstat()
    assert stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_nlink == 1
    assert [json.loads(x)["to"] for x in journal.read_text().splitlines()] == ["MASTER"]


def test_an_existing_journal_of_ours_is_appended_to(shared_dir, logger):
    sd = StateDir(shared_dir, logger)
    sd.append_transition({"to": "BACKUP"})
    sd.append_transition({"to": "MASTER"})
    lines = (shared_dir / state.TRANSITIONS_FILE).read_text().splitlines()
    assert [json.loads(x)["to"] for x in lines] == ["BACKUP", "MASTER"]


def test_modes_are_explicit_whatever_the_umask(shared_dir, logger):
    old = os.umask(0)
    try:
        sd = StateDir(shared_dir, logger)
        sd.write_status({"n": 1})
        sd.append_transition({"to": "MASTER"})
        sd.write_dump(state.DATA_FILE, "x\n")
        sd.write_dump(state.STATS_FILE, "x\n")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in shared_dir.iterdir()}
    assert modes == {state.STATUS_FILE: 0o644, state.TRANSITIONS_FILE: 0o644,
                     state.DATA_FILE: 0o600, state.STATS_FILE: 0o600}


def test_temporary_names_are_not_predictable(shared_dir, logger, monkeypatch):
    seen = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            seen.append(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    sd = StateDir(shared_dir, logger)
    sd.write_status({"n": 1})
    sd.write_status({"n": 2})
    assert len(seen) == 2 and seen[0] != seen[1]
    assert all(str(os.getpid()) not in name for name in seen)


def test_a_state_dir_that_is_a_symlink_is_refused(tmp_path, logger, caplog):
    elsewhere = tmp_path / "user-dir"
    elsewhere.mkdir()
    elsewhere.chmod(0o777)
    link = tmp_path / "state"
    link.symlink_to(elsewhere)
    sd = StateDir(link, logger)
    with caplog.at_level(logging.ERROR, logger="test-state"):
        sd.prepare()
        sd.write_status({"n": 1})
        sd.append_transition({"to": "MASTER"})
        assert sd.write_dump(state.DATA_FILE, "x\n") is None
    assert list(elsewhere.iterdir()) == []
    assert any("is a symlink" in r.getMessage() for r in caplog.records)


@pytest.mark.root
def test_a_state_dir_owned_by_someone_else_is_refused(tmp_path, logger, caplog):
    foreign = tmp_path / "state"
    foreign.mkdir()
    os.chown(foreign, 65534, 65534)
    sd = StateDir(foreign, logger)
    with caplog.at_level(logging.ERROR, logger="test-state"):
        sd.write_status({"n": 1})
    assert list(foreign.iterdir()) == []
    assert any("not by us" in r.getMessage() for r in caplog.records)


def test_prepare_creates_a_missing_dir_0755_whatever_the_umask(tmp_path, logger):
    target = tmp_path / "var" / "state" / "keepalived"
    old = os.umask(0o177)
    try:
        StateDir(target, logger).prepare()
    finally:
        os.umask(old)
    for path in (target, target.parent, target.parent.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o755, path


def test_links_planted_at_guessable_temporary_names_are_never_written(shared_dir, victim,
                                                                      logger):
    # The pid is in status.json, so a name made of it can be planted before the write.
    for name in (state.STATUS_FILE, state.DATA_FILE, state.STATS_FILE):
        for guess in (f".{name}.{os.getpid()}.tmp", f".{name}.tmp", f".{name}"):
            (shared_dir / guess).symlink_to(victim)
    sd = StateDir(shared_dir, logger)
    sd.write_status({"n": 1})
    sd.write_dump(state.DATA_FILE, "dump\n")
    sd.write_dump(state.STATS_FILE, "dump\n")
    assert victim.read_text() == "root:secret\n"
    assert json.loads((shared_dir / state.STATUS_FILE).read_text()) == {"n": 1}
