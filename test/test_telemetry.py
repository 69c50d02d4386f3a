"""trm_calls.json stays bounded: the first FULL_CALLS calls in full, then a systematic sample whose counts the file
states (funnel/telemetry.py)."""

import json

import numpy as np
from hypothesis import example, given, settings, strategies as st

from trm_demo.config import load_config
from trm_demo.funnel import pipeline, telemetry
from trm_demo.funnel.simulation import run_funnel


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


def test_a_real_runs_file_stays_within_its_documented_bound(tmp_path, monkeypatch):
    """The default run's 1,600 calls, sampled past the first 300: the file is no larger than max_bytes says (the
    README's figure), and the sample kept the calls it should."""
    monkeypatch.setattr(telemetry, "FULL_CALLS", 300)
    monkeypatch.setattr(telemetry, "SAMPLE_EVERY", 10)
    cfg = load_config()
    model = pipeline.starting_model(cfg)
    path = tmp_path / "trm_calls.json"
    with telemetry.call_log(path) as calls:
        run_funnel(cfg, model, pipeline.fit_baseline(cfg), calls, pipeline.step_cap(cfg, model.decisions))
    *records, counts = json.loads(path.read_text())
    calls = cfg.simulation.opportunities * cfg.market.candidates_per_opportunity
    assert counts["telemetry"] == {"calls": calls, "written": 300 + 130, "full_calls": 300, "sample_every": 10}
    assert [r["opportunity"] * 8 + r["candidate"] for r in records[298:302]] == [298, 299, 300, 310]
    assert path.stat().st_size <= telemetry.max_bytes(calls)
    # and the bound is not slack by orders of magnitude: a record is over half its RECORD_BYTES on average
    assert path.stat().st_size > telemetry.max_bytes(calls) / 2


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), st.none(), st.booleans(), st.floats(allow_nan=False,
                                                                                   allow_infinity=False)),
                min_size=1, max_size=12),
       st.dictionaries(st.sampled_from(["hurdle", "breaker"]), st.one_of(st.floats(0, 9), st.text(max_size=8))))
@example(["\\u0000", "b", "c"], {"breaker": "50%"})   # a text that spells the escape of the NUL between texts
def test_every_record_is_the_json_of_its_values(tmp_path_factory, values, context):
    """The records written column by column (texts through one encoder call, repeats once) read back as the values,
    whatever the texts hold (quotes, backslashes, NULs, non-ASCII) and whatever the context's."""
    path = tmp_path_factory.mktemp("t") / "trm_calls.json"
    column = np.empty(len(values), dtype=object)
    column[:] = values
    with telemetry.call_log(path) as log:
        log.write({"value": column, "number": np.arange(len(values))}, context, 0.5)
        log.write({"value": column[::-1], "number": np.arange(len(values))}, context, 0.5)
    records = json.loads(path.read_text())
    assert [r["value"] for r in records] == values + values[::-1]
    assert all({k: r[k] for k in context} == context and r["wall_clock"] == {"pass_ms_per_candidate": 0.5}
               for r in records)
