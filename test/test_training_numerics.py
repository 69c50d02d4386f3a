"""The numerics that keep training and its outputs finite: a learning rate of 1 does not diverge, a
non-finite gradient or loss stops training with a message and the last good weights, and a saturated
model's held-out log-loss and telemetry probabilities stay away from 0 and 1."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from trm_demo.funnel import pipeline
from trm_demo.trm import training
from trm_demo.config import load_config
from trm_demo.funnel.market import training_log
from trm_demo.funnel.rng import rng_for
from trm_demo.funnel.simulation import run_funnel
from trm_demo.funnel.telemetry import CallLog
from trm_demo.trm.training import PROB_EPS, evaluate, fit
from trm_demo.trm.weights import init_model


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
    backward = training.supervision_step_backward
    monkeypatch.setattr(training, "supervision_step_backward", lambda *a, **k: nan_gradient(backward(*a, **k)))
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
