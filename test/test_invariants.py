"""Guardrail invariants over random configs and markets, and the numerics that keep training finite.

Guardrails: the funnel runs on random (valid) configs with a tiny from-scratch
model whose heads are randomly biased, so halting, budgets, breakers and the
thermostat all get exercised. Whatever happens:
  - the sentinel never lets the TRM's compute spend pass sentinel.max_cost;
  - no TRM decision takes more steps than the thermostat's and the sentinel's caps;
  - the thermostat never leaves its bounds;
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
from trm_demo.trm import training
from trm_demo.config import load_config
from trm_demo.funnel.market import training_log
from trm_demo.funnel.rng import rng_for
from trm_demo.funnel.simulation import run_funnel
from trm_demo.strategies import KEYS, STRATEGIES, Inputs, Recording
from trm_demo.funnel.telemetry import CallLog, call_log
from trm_demo.trm.training import PROB_EPS, evaluate, fit
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
    n = draw(st.integers(1, 300))
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
        "thermostat.gain": draw(st.floats(0.0, 5.0)), "thermostat.deadband": draw(unit),
        "thermostat.window": draw(st.integers(1, 50)), "thermostat.warmup": draw(st.integers(0, 100)),
        "sentinel.enabled": draw(st.sampled_from([True, True, True, False])),
        "sentinel.llm_budget_per_opportunity": draw(st.one_of(st.just(0.0), money, st.floats(0.0, 5.0))),
        "sentinel.max_latency_ms": draw(st.floats(1.0, 10_000.0)),
        "sentinel.breaker_window": draw(st.integers(1, 30)),
        "sentinel.breaker_failure_rate": draw(st.floats(0.01, 1.0)),
        "sentinel.breaker_cooldown": draw(st.integers(1, 50)),
        "scenario.events": events,
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
    baseline = pipeline.fit_baseline(cfg.replace(**{"training.samples": 64}))
    with call_log(None) as calls:    # telemetry off: nothing is written
        result = run_funnel(cfg, model, baseline, calls, step_cap)
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

    # Every TRM decision's steps stay within the step cap.
    steps = ledger.series("cascade", "steps")
    assert np.all((steps >= 1) & (steps <= step_cap))

    # The thermostat never leaves its bounds.
    t = cfg.thermostat
    for state in result.thermostat.history:
        assert t.min_hurdle <= state["hurdle"] <= t.max_hurdle

    # The breaker only goes closed -> open -> half_open -> (closed | open).
    allowed = {("closed", "open"), ("open", "half_open"), ("half_open", "closed"), ("half_open", "open")}
    assert all((e["from"], e["state"]) in allowed for e in result.sentinel.events)

    # No strategy beats the oracle in expected value: the oracle maximises it, per job.
    summary = ledger.summary()
    oracle = summary["oracle"]["expected_net_value"]
    for strategy in KEYS:
        assert summary[strategy]["expected_net_value"] <= oracle + 1e-6 * max(abs(oracle), 1.0)

    # Each strategy's record says what it sees and how it is recorded: only a reader of the replies pays for
    # reads, and only a strategy decided from the TRM's pass records its steps.
    for record in STRATEGIES:
        if record.inputs is not Inputs.FIELDS_AND_REPLY:
            assert summary[record.key]["llm_reads"] == 0 and summary[record.key]["llm_cost"] == 0
        assert (summary[record.key]["avg_steps"] is None) == (record.recording is Recording.ROUND)

    # The ledger's totals are the sums of its entries: one entry per opportunity, per strategy.
    for strategy in KEYS:
        totals = ledger.totals(strategy)
        column = {name: ledger.series(strategy, name) for name in
                  ("opportunity", "pursued", "converted", "value", "compute_cost", "outreach_cost", "fallback")}
        assert np.array_equal(column["opportunity"], np.arange(n))
        assert totals["attempts"] == n
        assert totals["pursued"] == column["pursued"].sum()
        assert totals["conversions"] == column["converted"].sum()
        assert not np.any(column["converted"] & ~column["pursued"])
        for name in ("value", "compute_cost", "outreach_cost"):
            total = "total_value" if name == "value" else name
            assert math.isclose(totals[total], column[name].sum(), rel_tol=1e-12, abs_tol=1e-9)
        assert math.isclose(totals["net_value"], totals["total_value"] - totals["total_cost"],
                            rel_tol=1e-12, abs_tol=1e-9)


# --- numerics ---

def recent_log(cfg, samples: int):
    x, outcome, _ = training_log(rng_for(cfg.simulation.seed, "recent_log"), samples, cfg.market.drift)
    return x, outcome


def all_finite(weights: dict) -> bool:
    return all(np.isfinite(w).all() for w in weights.values())


@pytest.mark.parametrize("start", ["pretrained", "scratch"])
def test_learning_rate_1_does_not_diverge_on_the_default_data(start):
    cfg = load_config(overrides={"training.learning_rate": 1.0, "training.from_scratch": start == "scratch"})
    model = pipeline.starting_model(cfg)
    x, outcome = recent_log(cfg, cfg.training.samples)
    log = fit(model, x, outcome, cfg.training, cfg.training.epochs, cfg.model.supervision_steps,
              rng_for(cfg.simulation.seed, "training"), cfg.simulation.trm_halt_threshold)["epochs"]
    assert len(log) == cfg.training.epochs and not any("stopped" in epoch for epoch in log)
    for epoch in log:
        assert all(math.isfinite(epoch[key]) for key in ("loss", "halting_loss", "grad_norm"))
    assert all_finite(model.params) and all_finite(model.ema)
    holdout = training_log(rng_for(cfg.simulation.seed, "holdout"), 256, cfg.market.drift)
    assert all(math.isfinite(step["log_loss"]) for step in evaluate(model, *holdout, cfg.model.supervision_steps))


def poison_on_call(monkeypatch, model, name: str, bad_call: int, poison):
    """Make training.<name> return a poisoned result on its bad_call-th call; remember the
    weights as they were at that moment (= after the last good update)."""
    real = getattr(training, name)
    seen = {"calls": 0}

    def wrapped(*args, **kwargs):
        seen["calls"] += 1
        result = real(*args, **kwargs)
        if seen["calls"] == bad_call:
            seen["params"] = {k: v.copy() for k, v in model.params.items()}
            seen["ema"] = {k: v.copy() for k, v in model.ema.items()}
            return poison(result)
        return result
    monkeypatch.setattr(training, name, wrapped)
    return seen


def nan_gradient(grads):
    grads["head.w"][0, 0] = np.nan
    return grads


def nan_loss(losses):
    return (np.float32(np.nan), *losses[1:])


@pytest.mark.parametrize("name, poison, what", [("supervision_step_backward", nan_gradient, "gradient"),
                                                ("binary_losses", nan_loss, "loss")])
def test_non_finite_training_stops_with_a_message_and_keeps_the_last_good_weights(monkeypatch, name, poison, what):
    # no validation split: the EMA is then the one of the last good update, not of the best epoch
    cfg = load_config(overrides={"training.from_scratch": True, "training.validation_share": 0.0})
    model = pipeline.starting_model(cfg)
    seen = poison_on_call(monkeypatch, model, name, bad_call=4, poison=poison)
    x, outcome = recent_log(cfg, 512)
    log = fit(model, x, outcome, cfg.training, 3, cfg.model.supervision_steps,
              rng_for(cfg.simulation.seed, "training"), cfg.simulation.trm_halt_threshold)["epochs"]
    assert len(log) == 1, "training must stop at the first non-finite value"
    assert log[-1]["stopped"] == f"non-finite {what} at epoch 1; kept the last good weights"
    assert log[-1]["optimizer_steps"] == 3
    for group in ("params", "ema"):
        kept = getattr(model, group)
        assert all(np.array_equal(kept[k], seen[group][k]) for k in kept), f"{group} changed after the bad step"
    assert all_finite(model.params) and all_finite(model.ema)


def test_cli_warns_once_and_finishes_when_training_stops_early(tmp_path, monkeypatch, capsys):
    from test_cli import run_cli, tiny_args
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(training, "supervision_step_backward", lambda *a, **k: nan_gradient(
        {"head.w": np.zeros((1, 1))}))
    run = run_cli(capsys, tiny_args(tmp_path, "--quiet"))
    assert run.code == 0
    # (rich wraps stderr at 80 columns when it is not a terminal: compare the text, not the lines)
    assert run.err.replace("\n", "") == ("warning: training stopped early: non-finite gradient at epoch 1; "
                                         "kept the last good weights")
    epochs = json.loads((tmp_path / "training.json").read_text())["epochs"]
    assert epochs[-1]["stopped"].startswith("non-finite gradient")


def saturated_model(cfg, bias: float):
    model = init_model(pipeline.model_spec(cfg), rng_for(cfg.simulation.seed, "init"))
    for weights in (model.params, model.ema):
        weights["head.b"][:] = bias
        weights["halt.b"][:] = bias
    return model


@pytest.mark.parametrize("bias", [60.0, -60.0])
def test_held_out_log_loss_stays_finite_for_a_saturated_model(bias):
    cfg = load_config(overrides={"model.hidden_size": 8})
    holdout = training_log(rng_for(cfg.simulation.seed, "holdout"), 256, cfg.market.drift)
    for step in evaluate(saturated_model(cfg, bias), *holdout, cfg.model.supervision_steps):
        assert math.isfinite(step["log_loss"]) and math.isfinite(step["excess_log_loss"])


@pytest.mark.parametrize("bias", [60.0, -60.0])
def test_telemetry_probabilities_are_clipped_away_from_0_and_1(bias):
    cfg = load_config(overrides={"model.hidden_size": 8, "simulation.opportunities": 20})
    text = io.StringIO()
    run_funnel(cfg, saturated_model(cfg, bias), pipeline.fit_baseline(cfg), CallLog(text), cfg.model.supervision_steps)
    records = json.loads(text.getvalue() + "\n]")
    for record in records:
        assert PROB_EPS <= record["probability"] <= 1 - PROB_EPS
        assert PROB_EPS <= record["trm_probability"] <= 1 - PROB_EPS
