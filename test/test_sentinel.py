"""Each guardrail fires on its own breach, the breaker recovers through half-open, and spend never passes the cap."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trm_demo.config import load_config
from trm_demo.sentinel import Sentinel

BASE = load_config().replace(**{"model.supervision_steps": 32})
HEALTHY_ROI, LOW_ROI, FAST_MS, SLOW_MS = 2.0, -0.5, 2.0, 500.0


def sentinel(**knobs) -> Sentinel:
    defaults = {"roi_floor": 0.0, "warmup": 40, "cooldown": 20, "max_cost": 1.0, "max_latency_ms": 50.0}
    knobs = {**defaults, **knobs}
    return Sentinel(BASE.replace(**{f"sentinel.{k}": v for k, v in knobs.items()}).sentinel)


def guardrails(s: Sentinel) -> list[str]:
    return [e["guardrail"] for e in s.events]


def test_roi_floor_is_ignored_during_warmup_and_opens_the_breaker_after():
    s = sentinel(warmup=40)
    assert s.check(30, 0.01, LOW_ROI, FAST_MS)
    assert s.state == "closed" and s.events == []
    assert not s.check(40, 0.01, LOW_ROI, FAST_MS)
    assert s.state == "open"
    assert s.events == [{"opportunity": 40, "guardrail": "roi_floor", "value": LOW_ROI, "limit": 0.0, "state": "open"}]


def test_latency_breach_opens_the_breaker_even_during_warmup():
    s = sentinel(warmup=1000)
    assert not s.check(0, 0.01, None, SLOW_MS)
    assert guardrails(s) == ["latency"] and s.state == "open"


def test_greedy_decides_for_the_cooldown_then_the_trm_is_tried_and_recovers():
    s = sentinel(warmup=0, cooldown=20)
    assert not s.check(0, 0.01, LOW_ROI, FAST_MS)
    assert not s.check(10, 0.01, LOW_ROI, FAST_MS)  # still cooling down: greedy decides
    assert s.check(20, 0.01, LOW_ROI, FAST_MS)  # half-open trial, judged at the next check
    assert s.state == "half_open"
    assert s.check(30, 0.01, HEALTHY_ROI, FAST_MS)
    assert s.state == "half_open"  # the window still holds greedy's decisions: not judged yet
    assert s.check(40, 0.01, HEALTHY_ROI, FAST_MS)
    assert s.state == "closed"
    assert guardrails(s) == ["roi_floor", "half_open", "recovered"]


def test_half_open_reopens_at_once_on_latency_but_gives_roi_a_cooldown_to_recover():
    s = sentinel(warmup=0, cooldown=20)
    s.check(0, 0.01, LOW_ROI, FAST_MS)
    s.check(20, 0.01, LOW_ROI, FAST_MS)
    assert s.check(30, 0.01, LOW_ROI, FAST_MS) and s.state == "half_open"  # window still refilling
    assert not s.check(40, 0.01, LOW_ROI, FAST_MS) and s.state == "open"  # cooldown spent, still below floor
    s.check(60, 0.01, LOW_ROI, FAST_MS)
    assert not s.check(70, 0.01, HEALTHY_ROI, SLOW_MS) and s.state == "open"
    assert guardrails(s) == ["roi_floor", "half_open", "roi_floor", "half_open", "latency"]


def test_budget_breach_stops_trm_spending_for_the_rest_of_the_run():
    s = sentinel(max_cost=1.0)
    assert s.check(0, 0.6, HEALTHY_ROI, FAST_MS)
    s.charge(0.6)
    assert not s.check(10, 0.6, HEALTHY_ROI, FAST_MS)
    assert s.state == "budget_exhausted"
    # Even a chunk that would now fit is refused: the breach is permanent.
    assert not any(s.check(o, 0.001, HEALTHY_ROI, FAST_MS) for o in range(20, 200, 10))
    assert guardrails(s) == ["budget"] and s.events[0]["value"] == 1.2 and s.events[0]["limit"] == 1.0


def test_charging_more_than_the_budget_raises():
    s = sentinel(max_cost=1.0)
    assert s.check(0, 0.9, HEALTHY_ROI, FAST_MS)
    s.charge(0.9)
    with pytest.raises(ValueError, match="worst case"):
        s.charge(0.2)
    assert s.spent == 0.9


def test_step_cap_is_enforced_not_just_checked():
    s = sentinel(max_steps=4)
    assert [s.cap_steps(n) for n in (1, 4, 5, 32)] == [1, 4, 4, 4]


def test_disabled_sentinel_always_lets_the_trm_decide_and_records_nothing():
    s = sentinel(enabled=False, warmup=0, max_cost=0.0)
    assert all(s.check(o, 5.0, LOW_ROI, SLOW_MS) for o in range(0, 100, 10))
    assert s.events == []


@settings(max_examples=150, deadline=None)
@given(st.floats(0, 5), st.integers(1, 32),
       st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.one_of(st.none(), st.floats(-1, 3)),
                          st.one_of(st.none(), st.floats(0, 100)), st.integers(1, 40)), max_size=60))
def test_sentinel_never_exceeds_budget_or_step_cap(max_cost, max_steps, chunks):
    s = sentinel(max_cost=max_cost, max_steps=max_steps, warmup=20, cooldown=15)
    opportunity = 0
    for worst_case, used_share, roi, latency, wished_steps in chunks:
        assert s.cap_steps(wished_steps) <= max_steps
        if s.check(opportunity, worst_case, roi, latency):
            s.charge(worst_case * used_share)  # the actual cost is never above the worst case
        assert s.spent <= max_cost
        opportunity += 10
    json.dumps(s.events)
