"""Guardrail invariants over random configs and markets (sentinel, thermostat, ledger, oracle).

The funnel runs on random (valid) configs with a tiny from-scratch
model whose heads are randomly biased, so halting, budgets, breakers and the
thermostat all get exercised. Whatever happens:
  - the LLM budget holds exactly, in the run, in every counterfactual replay and for every rival held to it;
  - no TRM decision takes more steps than the step cap;
  - the thermostat never leaves its bounds, and the breaker moves only along its allowed transitions;
  - no strategy beats the oracle in expected value;
  - the ledger's totals are the sums of its entries, one entry per opportunity.
"""

from __future__ import annotations

import io
import json
import math
import os

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from trm_demo.funnel import pipeline
from trm_demo.config import load_config
from trm_demo.funnel.rng import rng_for
from trm_demo.funnel.simulation import run_funnel
from trm_demo.strategies import STRATEGIES, Inputs, Recording, recorded
from trm_demo.funnel.telemetry import CallLog
from trm_demo.trm.weights import init_model

SLACK = 1e-9   # summing per-candidate costs in another order may differ by a few ulps


@st.composite
def funnel_setups(draw):
    """A valid config (validated by load_config), scenario events, and a tiny model with randomly biased heads."""
    supervision = draw(st.integers(1, 5))
    hurdle_min = draw(st.floats(0.1, 5.0))
    hurdle_max = draw(st.floats(hurdle_min, 30.0))
    unit = st.floats(0.0, 1.0)
    money = st.one_of(st.just(0.0), st.floats(-6.0, 0.0).map(lambda e: 10**e))   # $1e-6 .. $1, log-spread
    n = draw(st.integers(1, 200))   # the default run's length: room for every window, cooldown and event
    event_kinds = st.one_of(
        st.builds(lambda at, m: {"at": at, "llm_price_multiplier": m}, st.integers(0, n), st.floats(0.01, 20.0)),
        st.builds(lambda at, m: {"at": at, "llm_outage": m}, st.integers(0, n), st.integers(1, 100)),
        st.builds(lambda at, d: {"at": at, "drift": d}, st.integers(0, n), unit),
        st.builds(lambda at, m: {"at": at, "traffic_multiplier": m}, st.integers(0, n), st.floats(0.5, 2.0)))
    events = sorted(draw(st.lists(event_kinds, max_size=4)), key=lambda e: e["at"])
    overrides = {
        "model.hidden_size": draw(st.integers(2, 8)), "model.expansion": draw(st.integers(1, 2)),
        "model.n_cycles": draw(st.integers(1, 2)), "model.outer_steps": draw(st.integers(1, 2)),
        "model.supervision_steps": supervision, "model.activation": draw(st.sampled_from(["swiglu", "gelu"])),
        "market.candidates_per_opportunity": draw(st.integers(2, 6)), "market.drift": draw(unit),
        "simulation.seed": draw(st.integers(0, 2**32 - 1)), "simulation.opportunities": n,
        "simulation.chunk_size": draw(st.integers(1, 40)),
        # the labelled history (keyword reader, set-up reads): any size the config allows up to a few hundred rows
        "training.samples": draw(st.integers(16, 400)), "cascade.calibration_reads": draw(st.integers(0, 600)),
        "simulation.conversion_value": draw(st.floats(1.0, 1000.0)),
        "simulation.outreach_cost": draw(st.one_of(st.just(0.0), st.floats(1e-6, 200.0))),
        "simulation.llm_cost": draw(st.one_of(money, st.floats(1e-6, 5.0))),
        "simulation.llm_noise": draw(st.floats(0.0, 2.0)),
        "simulation.llm_latency_ms": draw(st.floats(0.0, 3000.0)),
        "simulation.llm_timeout_ms": draw(st.floats(0.0, 6000.0)),
        "simulation.trm_base_cost": draw(money), "simulation.trm_cost_per_step": draw(money),
        "simulation.trm_halt_threshold": draw(unit),
        "thermostat.enabled": draw(st.sampled_from([True, True, True, False])),
        "thermostat.min_hurdle": hurdle_min, "thermostat.max_hurdle": hurdle_max,
        "thermostat.initial_hurdle": draw(st.floats(hurdle_min, hurdle_max)),
        "thermostat.window": draw(st.integers(1, 50)), "thermostat.warmup": draw(st.integers(0, 100)),
        "thermostat.surprise_window": draw(st.integers(0, 60)),
        "thermostat.steady_surprise": draw(st.floats(0.05, 5.0)),
        "sentinel.enabled": draw(st.sampled_from([True, True, True, False])),
        "sentinel.llm_budget_per_opportunity": draw(st.one_of(st.just(0.0), money, st.floats(0.0, 5.0))),
        "sentinel.max_latency_ms": draw(st.floats(1.0, 10_000.0)),
        "sentinel.breaker_window": draw(st.integers(1, 30)),
        "sentinel.breaker_failure_rate": draw(st.floats(0.01, 1.0)),
        "sentinel.breaker_cooldown": draw(st.integers(1, 50)),
        "sentinel.breaker_probes": draw(st.integers(1, 4)),
        "sentinel.latency_cost_per_s": draw(st.one_of(st.just(0.0), money, st.floats(0.0, 10.0))),
        "scenario.events": events,
        # now and then the reading TRM's tier (trm_reader, cascade3): 0.5 ms a read, so not every example
        "reading_trm.enabled": draw(st.sampled_from([False] * 7 + [True])),
    }
    cfg = load_config(overrides=overrides)
    model = init_model(pipeline.model_spec(cfg), rng_for(cfg.simulation.seed, "init"))
    halt_bias, answer_bias = draw(st.floats(-4.0, 4.0)), draw(st.floats(-3.0, 3.0))
    for weights in (model.params, model.ema):
        weights["halt.b"][:] = halt_bias
        weights["head.b"][:] = answer_bias
    return cfg, model, draw(st.integers(1, supervision))


@settings(max_examples=int(os.environ.get("TRM_FUZZ_EXAMPLES", 40)), deadline=None)  # more by hand
@given(setup=funnel_setups())
def test_guardrails_hold_on_any_config_market_and_scenario(setup):
    cfg, model, step_cap = setup
    baseline = pipeline.fit_baseline(cfg)
    telemetry = io.StringIO()     # the per-call rows, in memory: the ledger keeps only totals
    result = run_funnel(cfg, model, baseline, CallLog(telemetry), step_cap)
    ledger, n = result.ledger, result.timeline.n
    for e in result.sentinel.events:
        event(f"sentinel: {e['state']}")
    event(f"thermostat moved: {any(h['action'] != 'hold' for h in result.thermostat.history)}")

    # The LLM budget holds exactly, in the run and in every replay that keeps it.
    budget = cfg.sentinel.llm_budget_per_opportunity * cfg.simulation.opportunities
    assert result.sentinel.spent <= budget
    assert ledger.totals("cascade")["llm_cost"] <= budget + SLACK * max(budget, 1.0)
    for name in ("thermostat", "sentinel"):
        assert result.counterfactuals[name]["without"]["llm_cost"] <= budget + SLACK * max(budget, 1.0)
    # So it does for every rival whose record holds it to the budget (the LLM reading everyone: no budget).
    summary = ledger.summary()
    records = [record for record in STRATEGIES if record.key in summary]   # the tier's two only where it is on
    assert tuple(record.key for record in records) == recorded(cfg.reading_trm.enabled)
    for record in records:
        if record.budgeted:
            assert summary[record.key]["llm_cost"] <= budget + SLACK * max(budget, 1.0), record.key

    # Waiting is charged once per second waited on the LLM, by every strategy that reads, inside its compute cost:
    # the LLM wait is the decision's latency beyond the TRM's, which the TRM alone records.
    # The ledger keeps totals, and the charge is linear in the wait: the totals must agree.
    def waited_ms(key):
        t = ledger.totals(key)
        return t["avg_latency_ms"] * t["attempts"]

    for record in records:
        t = ledger.totals(record.key)
        waiting = t["latency_cost"]
        if record.inputs is not Inputs.FIELDS_AND_REPLY or record.key == "keyword":
            assert waiting == 0, record.key
            continue
        waited_s = (waited_ms(record.key) - waited_ms("trm")) / 1000.0
        assert waiting == pytest.approx(cfg.sentinel.latency_cost_per_s * waited_s, rel=1e-9, abs=1e-9), record.key
        assert t["compute_cost"] >= waiting + t["llm_cost"] - SLACK * max(1.0, waiting), record.key

    # Every TRM decision's steps stay within the step cap.
    steps = np.array([call["steps"] for call in json.loads(telemetry.getvalue() + "\n]")])
    assert len(steps) == n * cfg.market.candidates_per_opportunity
    assert np.all((steps >= 1) & (steps <= step_cap))

    # The thermostat never leaves its bounds (its floor falls from min_hurdle towards 1 where gaps widen).
    t = cfg.thermostat
    for state in result.thermostat.history:
        assert min(t.min_hurdle, 1.0) <= state["hurdle"] <= t.max_hurdle

    # The breaker only goes closed -> open -> half_open -> (closed | open).
    allowed = {("closed", "open"), ("open", "half_open"), ("half_open", "closed"), ("half_open", "open")}
    assert all((e["from"], e["state"]) in allowed for e in result.sentinel.events)

    # No strategy beats the oracle in expected value: the oracle maximises it, per job.
    oracle = summary["oracle"]["expected_net_value"]
    for strategy in summary:
        assert summary[strategy]["expected_net_value"] <= oracle + 1e-6 * max(abs(oracle), 1.0)

    # Each strategy's record says what it sees and how it is recorded: only a reader of the replies pays for
    # reads, and only a strategy decided from the TRM's pass records its steps.
    for record in records:
        if record.inputs is not Inputs.FIELDS_AND_REPLY:
            assert summary[record.key]["llm_reads"] == 0 and summary[record.key]["llm_cost"] == 0
        assert (summary[record.key]["avg_steps"] is None) == (record.recording is Recording.ROUND)

    # The ledger counts one decision per opportunity, per strategy (its sums are pinned in test_ledger.py).
    for strategy in summary:
        totals = ledger.totals(strategy)
        assert totals["attempts"] == n
        assert 0 <= totals["conversions"] <= totals["pursued"] <= n
        assert math.isclose(totals["net_value"], totals["total_value"] - totals["total_cost"],
                            rel_tol=1e-12, abs_tol=1e-9)
