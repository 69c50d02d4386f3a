"""trm_calls.json stays bounded: the first FULL_CALLS calls in full, then a systematic sample whose counts the file
states (funnel/telemetry.py)."""

import json

import numpy as np

from trm_demo.funnel import telemetry


def test_beyond_the_full_calls_the_file_keeps_one_in_sample_every_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(telemetry, "FULL_CALLS", 5)
    monkeypatch.setattr(telemetry, "SAMPLE_EVERY", 4)
    path = tmp_path / "trm_calls.json"
    with telemetry.call_log(path) as log:
        for start in range(0, 30, 7):      # chunks that straddle the switch to sampling
            ids = np.arange(start, min(start + 7, 30))
            ids = ids[log.keep(len(ids))]
            log.write({"call": ids, "flag": ids % 2 == 0}, {"hurdle": 3.0}, 0.1)
    *records, counts = json.loads(path.read_text())
    assert [r["call"] for r in records] == [0, 1, 2, 3, 4, 5, 9, 13, 17, 21, 25, 29]
    assert counts == {"telemetry": {"calls": 30, "written": 12, "full_calls": 5, "sample_every": 4}}


def test_below_the_full_calls_every_call_is_written_and_nothing_else(tmp_path):
    path = tmp_path / "trm_calls.json"
    with telemetry.call_log(path) as log:
        log.write({"call": log.keep(3)}, {"hurdle": 3.0}, 0.1)
    assert [r["call"] for r in json.loads(path.read_text())] == [0, 1, 2]


def test_every_record_is_json_whatever_the_shared_context(tmp_path):
    """The record template is one %-format: a context that is empty or holds a "%" must not break it."""
    for context in ({}, {"mode": "100% read", "note": "50%s"}):
        path = tmp_path / "trm_calls.json"
        with telemetry.call_log(path) as log:
            log.write({"call": log.keep(2)}, context, 0.1)
        records = json.loads(path.read_text())
        assert [{k: r[k] for k in context} for r in records] == [context, context]
        assert [r["call"] for r in records] == [0, 1]
