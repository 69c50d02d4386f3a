"""The sentinel: the LLM budget holds exactly, the breaker opens on failures and recovers through half-open,
the latency limit counts rounds, and the TRM guard hands bad or slow outputs to the logistic model."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trm_demo.config import load_config
from trm_demo.funnel.sentinel import CLOSED, HALF_OPEN, OPEN, Sentinel

CFG = load_config().sentinel


def sentinel(budget=10.0, guardrails=True, **knobs) -> Sentinel:
    return Sentinel(type(CFG)(**{**CFG.__dict__, **knobs}), budget, llm_latency_ms=900.0, llm_timeout_ms=3000.0,
                    guardrails=guardrails)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 5.0), st.lists(st.lists(st.floats(0.0, 1.0), max_size=12), max_size=30))
def test_spend_never_passes_the_budget_even_by_one_ulp(budget, rounds):
    s = sentinel(budget=budget)
    for costs in rounds:
        costs = np.array(costs)
        allowed = s.affordable(costs)
        assert (np.diff(allowed.astype(int)) <= 0).all(), "approved reads must be a prefix"
        s.book(costs[allowed])
        assert s.spent <= budget
    assert s.spent <= budget


def test_the_breaker_opens_on_a_failure_rate_then_probes_and_recovers():
    s = sentinel(breaker_window=4, breaker_failure_rate=0.5, breaker_cooldown=10)
    assert s.reads_allowed(0) is None
    s.record_calls(0, np.array([False, True, False]))
    assert s.state == CLOSED                     # the window is not full yet
    s.record_calls(1, np.array([True]))          # 2 of the last 4 failed
    assert s.state == OPEN and s.reads_allowed(5) == 0
    assert s.reads_allowed(11) == 1 and s.state == HALF_OPEN   # cooldown over: one probe
    s.record_calls(11, np.array([True]))
    assert s.state == OPEN                        # the probe failed
    assert s.reads_allowed(21) == 1
    s.record_calls(21, np.array([False]))
    assert s.state == CLOSED and s.reads_allowed(22) is None
    assert [e["state"] for e in s.events] == [OPEN, HALF_OPEN, OPEN, HALF_OPEN, CLOSED]


def test_without_guardrails_the_breaker_never_opens_but_the_budget_still_holds():
    s = sentinel(budget=1.0, guardrails=False, breaker_window=2)
    s.record_calls(0, np.array([True, True, True]))
    assert s.reads_allowed(1) is None and s.events == []
    assert s.affordable(np.array([0.6, 0.6])).tolist() == [True, False]


def test_the_latency_limit_counts_rounds_and_plans_for_a_timeout_after_a_failure():
    s = sentinel(max_latency_ms=3000.0)
    waited = np.array([0.0, 1800.0, 2700.0, 0.0])
    failed_before = np.array([False, False, False, True])
    assert s.round_fits(waited, failed_before).tolist() == [True, True, False, True]
    assert s.round_fits(np.array([900.0]), np.array([True])).tolist() == [False]


def test_the_trm_guard_names_non_finite_and_slow_outputs():
    s = sentinel(trm_max_latency_ms=50.0)
    estimate = np.array([[0.2, 0.3], [np.nan, 0.1], [0.4, 0.5]])
    reasons = s.trm_guard(estimate, np.array([10.0, 10.0, 80.0]))
    assert reasons.tolist() == ["", "trm_non_finite", "trm_latency"]
    assert sentinel(guardrails=False).trm_guard(estimate, np.array([10.0, 10.0, 80.0])).tolist() == ["", "", ""]
