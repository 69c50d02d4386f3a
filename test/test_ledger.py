"""The ledger is the single source of every money figure, so its sums and ratios are pinned to their definitions."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trm_demo.funnel.ledger import Ledger

CONVERSION_VALUE = 100.0


@st.composite
def chunks(draw, max_chunks=8):
    """Random chunked recordings; costs are whole cents."""
    recorded = []
    for _ in range(draw(st.integers(0, max_chunks))):
        size = draw(st.integers(0, 12))
        bools = st.lists(st.booleans(), min_size=size, max_size=size)
        cents = st.lists(st.integers(0, 5_000), min_size=size, max_size=size)
        pursued = np.array(draw(bools), dtype=bool)
        converted = pursued & np.array(draw(bools), dtype=bool)
        chance = np.array(draw(st.lists(st.integers(1, 99), min_size=size, max_size=size))) / 100.0
        recorded.append({
            "pursued": pursued, "converted": converted, "value": converted * CONVERSION_VALUE,
            "expected_value": pursued * chance * CONVERSION_VALUE,
            "compute_cost": np.array(draw(cents)) / 100.0, "outreach_cost": pursued * 20.0,
            "steps": np.array(draw(st.lists(st.integers(1, 6), min_size=size, max_size=size))),
            "fallback": np.array(draw(bools), dtype=bool),
        })
    return recorded


def fill(ledger, strategy, recorded):
    start = 0
    for chunk in recorded:
        size = len(chunk["pursued"])
        ledger.record(strategy, np.arange(start, start + size), **chunk)
        start += size
    return {name: np.concatenate([c[name] for c in recorded]) if recorded else np.zeros(0)
            for name in ("pursued", "converted", "value", "expected_value", "compute_cost", "outreach_cost", "steps",
                         "fallback")}


@settings(max_examples=60, deadline=None)
@given(chunks())
def test_totals_equal_the_sum_of_recorded_entries(recorded):
    ledger = Ledger(["trm"], capacity=100)
    entries = fill(ledger, "trm", recorded)
    totals = ledger.totals("trm")
    assert totals["attempts"] == len(entries["pursued"])
    assert totals["pursued"] == entries["pursued"].sum()
    assert totals["skipped"] == (~entries["pursued"].astype(bool)).sum()
    assert totals["conversions"] == entries["converted"].sum()
    assert totals["fallback_decisions"] == entries["fallback"].sum()
    for name in ("value", "compute_cost", "outreach_cost"):
        assert totals["total_value" if name == "value" else name] == pytest.approx(entries[name].sum())
    if len(entries["steps"]):
        assert totals["avg_steps"] == pytest.approx(entries["steps"].mean())
    # the yardstick: expected value of the pursued candidates minus every cost
    cost = entries["compute_cost"].sum() + entries["outreach_cost"].sum()
    assert totals["expected_net_value"] == pytest.approx(entries["expected_value"].sum() - cost)


@settings(max_examples=60, deadline=None)
@given(chunks())
def test_roi_and_net_value_follow_their_definitions(recorded):
    ledger = Ledger(["trm"], capacity=100)
    fill(ledger, "trm", recorded)
    t = ledger.totals("trm")
    assert t["total_cost"] == pytest.approx(t["compute_cost"] + t["outreach_cost"])
    assert t["net_value"] == pytest.approx(t["total_value"] - t["total_cost"])
    if t["total_cost"] > 0:
        assert t["roi"] == pytest.approx(t["net_value"] / t["total_cost"])
    else:
        assert t["roi"] is None
    assert t["success_rate"] == (t["conversions"] / t["attempts"] if t["attempts"] else None)
    assert t["conversion_rate"] == (t["conversions"] / t["pursued"] if t["pursued"] else None)


def record_one(ledger, strategy="trm", opportunity=0, pursued=True, converted=False, value=0.0):
    ledger.record(strategy, np.array([opportunity]), np.array([pursued]), np.array([converted]),
                  np.array([value]), np.array([0.01]), np.array([20.0 * pursued]), np.array([50.0 * pursued]))


def test_recording_past_capacity_raises():
    ledger = Ledger(["trm"], capacity=2)
    record_one(ledger, opportunity=0)
    record_one(ledger, opportunity=1)
    with pytest.raises(ValueError, match="capacity"):
        record_one(ledger, opportunity=2)


def test_a_conversion_that_was_not_pursued_raises():
    with pytest.raises(ValueError, match="pursued=True"):
        record_one(Ledger(["trm"], capacity=1), pursued=False, converted=True, value=CONVERSION_VALUE)


def test_value_without_a_conversion_raises():
    with pytest.raises(ValueError, match="only conversions earn value"):
        record_one(Ledger(["trm"], capacity=1), value=CONVERSION_VALUE)


def test_columns_of_different_lengths_raise():
    with pytest.raises(ValueError, match="1-D with 2 entries"):
        Ledger(["trm"], capacity=5).record("trm", np.arange(2), np.ones(2, bool), np.zeros(2, bool),
                                           np.zeros(3), np.zeros(2), np.zeros(2), np.zeros(2))


def test_unknown_strategy_names_the_known_ones():
    with pytest.raises(KeyError, match="greedy, trm"):
        record_one(Ledger(["greedy", "trm"], capacity=1), strategy="llm")


def test_steps_and_latency_are_none_when_a_strategy_never_reports_them():
    ledger = Ledger(["greedy"], capacity=3)
    record_one(ledger, "greedy")
    totals = ledger.totals("greedy")
    assert totals["avg_steps"] is None and totals["avg_latency_ms"] is None
    assert totals["llm_cost"] == 0.0 and totals["llm_reads"] == 0


def test_share_of_oracle_is_net_value_over_the_oracles():
    ledger = Ledger(["greedy", "oracle"], capacity=2)
    for strategy in ("greedy", "oracle"):
        record_one(ledger, strategy, opportunity=0, converted=True, value=CONVERSION_VALUE)
    record_one(ledger, "greedy", opportunity=1)
    record_one(ledger, "oracle", opportunity=1, pursued=False)
    summary = ledger.summary()
    assert summary["oracle"]["share_of_oracle"] == 1.0 and summary["oracle"]["share_of_oracle_expected"] == 1.0
    assert summary["greedy"]["share_of_oracle_expected"] == pytest.approx(
        summary["greedy"]["expected_net_value"] / summary["oracle"]["expected_net_value"])
    assert summary["greedy"]["share_of_oracle"] == pytest.approx(
        summary["greedy"]["net_value"] / summary["oracle"]["net_value"])
    json.dumps(summary)  # plain Python numbers, ready for demo_metrics.json


def test_share_of_oracle_is_none_when_the_oracle_made_no_money():
    ledger = Ledger(["greedy", "oracle"], capacity=1)
    record_one(ledger, "greedy")
    record_one(ledger, "oracle")
    assert all(row["share_of_oracle"] is None for row in ledger.summary().values())


def test_a_million_opportunities_fit_in_preallocated_columns():
    n = 1_000_000
    ledger = Ledger(["trm"], capacity=n)
    pursued = np.arange(n) % 2 == 0
    converted = pursued & (np.arange(n) % 4 == 0)
    ledger.record("trm", np.arange(n), pursued, converted, converted * CONVERSION_VALUE,
                  np.full(n, 1e-5), pursued * 20.0, pursued * 40.0, steps=np.full(n, 3), latency_ms=np.full(n, 1.5))
    totals = ledger.totals("trm")
    assert totals["conversions"] == n // 4 and totals["expected_net_value"] == pytest.approx(
        n // 2 * 40.0 - n * 1e-5 - n // 2 * 20.0)
