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
    s = sentinel(breaker_window=4, breaker_failure_rate=0.5, breaker_cooldown=10, breaker_probes=1)
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


def outage_plant(s: Sentinel, outage: range, chunks: int = 40, chunk: int = 10, reads: int = 9):
    """A synthetic plant: each chunk of `chunk` opportunities wants `reads` parallel reads (as many as the breaker
    allows), which fail while the opportunity is in the outage. Returns the reads attempted and failed per chunk."""
    attempted, failed = [], []
    for c in range(chunks):
        first = c * chunk
        allowed = s.reads_allowed(first)
        n = reads if allowed is None else min(allowed, reads)
        # The plant's reads go to the chunk's jobs in turn; a job's call fails when the LLM is down at its time.
        fails = np.array([first + i % chunk in outage for i in range(n)], bool)
        s.record_calls(first, fails)
        if allowed is not None and n and not fails.all():   # the probe came back: the rest of the chunk reads
            rest = np.array([first + i % chunk in outage for i in range(n, reads)], bool)
            s.record_calls(first, rest)
            n, fails = reads, np.r_[fails, rest]
        attempted.append(n)
        failed.append(int(fails.sum()))
    return np.array(attempted), np.array(failed)


def test_the_breaker_opens_within_one_round_of_an_outage_and_closes_within_a_chunk_of_its_end():
    s = sentinel(breaker_window=5, breaker_failure_rate=0.6, breaker_cooldown=5, breaker_probes=3)
    attempted, failed = outage_plant(s, range(130, 155))
    assert failed[:13].sum() == 0 and failed[13] == 9          # the first outage round fails whole...
    assert attempted[14] == 3 and failed[14] == 3               # ...then only the probes are tried
    assert s.state == CLOSED and attempted[16:].min() == 9      # closed again, every read back
    # Failed calls: the first round, the probes of each chunk in the outage, at most the straddling chunk's 5.
    assert failed.sum() <= 9 + 3 * 2 + 5
    opened = [e for e in s.events if e["state"] == OPEN]
    assert opened[0]["opportunity"] == 130


def test_a_round_is_judged_whole_so_half_a_failed_round_does_not_open_it():
    s = sentinel(breaker_window=5, breaker_failure_rate=0.6)
    s.record_calls(0, np.array([False] * 5))
    s.record_calls(10, np.array([False] * 5 + [True] * 5))      # the last 5 listed failed, the round half
    assert s.state == CLOSED
    s.record_calls(20, np.array([False] * 3 + [True] * 7))
    assert s.state == OPEN


def test_the_waiting_price_is_charged_once_per_second_waited():
    from trm_demo.funnel.simulation import waiting_cost
    cfg = load_config(overrides={"sentinel.latency_cost_per_s": 0.5})
    assert waiting_cost(cfg, np.array([0.0, 900.0, 3000.0, 3900.0])).tolist() == [0.0, 0.45, 1.5, 1.95]
