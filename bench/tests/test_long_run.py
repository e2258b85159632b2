"""The long run's table states its warm-up and its verdicts."""

from __future__ import annotations

from bench import long_run


def _sample(rss: int) -> dict:
    return {"rss_kb": rss, "fds": 10, "threads": 1}


def test_long_run_states_the_warm_up():
    pulls = {
        "pulls": 200, "warmup": 100, "failovers": 600, "seconds": 230.0, "failures": [],
        "advert_int": 0.1,
        "growth": {"master": _sample(120), "backup": _sample(90)},
        "growth_since_first": {"master": _sample(830), "backup": _sample(400)},
    }
    for box in ("growth", "growth_since_first"):
        for g in pulls[box].values():
            g.update(fds=0, threads=0)
    rows = long_run.table_rows({"cable_pulls": pulls})
    assert rows[0][0] == ("long run: 200 cable pulls after 100 warm-up, v3 100 ms, "
                          "ours on both boxes")
    assert rows[0][1:] == ["wrong failovers of 600", "0", "0", "-", "yes"]
    assert rows[1][3:] == ["120 / 90 KiB (830 / 400 KiB)", "-", "yes"]
    assert rows[2][3:] == ["fds +0 / +0, threads +0 / +0", "-", "yes"]
    pulls["growth"]["master"]["rss_kb"] = 1100
    assert long_run.table_rows({"cable_pulls": pulls})[1][5] == "**no**"
