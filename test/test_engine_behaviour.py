"""What the TRM must do as a model: learn, refine with depth, halt for real, and round-trip its weights."""

import numpy as np
import pytest

from trm_demo.funnel.pipeline import checkpoint_path, fine_tune, model_spec, starting_model
from trm_demo.config import load_config
from trm_demo.trm.engine import TRMSpec, halting_steps
from trm_demo.funnel.market import N_FEATURES, sample_market, structured_only_probability, training_log
from trm_demo.trm.training import evaluate, fit
from trm_demo.ui import UI
from trm_demo.trm.weights import init_model, load_checkpoint, save_checkpoint

CFG = load_config()
SMALL = TRMSpec(N_FEATURES, hidden_size=16, expansion=2, n_cycles=2, outer_steps=2, activation="swiglu",
                halt_bias_init=-3.0)


@pytest.fixture(scope="module")
def shipped():
    model, metadata = load_checkpoint(checkpoint_path(CFG), expected=model_spec(CFG))
    return model, metadata


@pytest.fixture(scope="module")
def pretraining_holdout():
    return training_log(np.random.default_rng(12345), 3000, drift=0.0)


@pytest.fixture(scope="module")
def small_trained():
    x, outcome, _ = training_log(np.random.default_rng(1), 6000, drift=0.0)
    model = init_model(SMALL, np.random.default_rng(0))
    log = fit(model, x, outcome, CFG.training, epochs=4, supervision_steps=3, rng=np.random.default_rng(2))["epochs"]
    return model, log


def test_training_lowers_the_loss_and_beats_a_constant_predictor(small_trained, pretraining_holdout):
    model, log = small_trained
    assert log[-1]["loss"] < log[0]["loss"]
    x, outcome, p_true = pretraining_holdout
    constant = np.clip(outcome.mean(), 1e-6, 1 - 1e-6)
    constant_loss = -np.mean(outcome * np.log(constant) + (1 - outcome) * np.log(1 - constant))
    trained_loss = evaluate(model, x, outcome, p_true, 3)[-1]["log_loss"]
    # Measured 0.619 against 0.692: much of the outcome noise is what only the replies say, which no
    # model of the structured fields can learn, so the margin is smaller than in a fields-only world.
    assert trained_loss < constant_loss - 0.04, (trained_loss, constant_loss)


def test_ema_weights_differ_from_raw_weights_and_are_used_by_default(small_trained, pretraining_holdout):
    model, _ = small_trained
    assert any(not np.array_equal(model.ema[k], model.params[k]) for k in model.params)
    x = pretraining_holdout[0][:50]
    default = model.infer(x, 3, 1.0).answer
    assert np.array_equal(default, model.infer(x, 3, 1.0, use_ema=True).answer)
    assert not np.array_equal(default, model.infer(x, 3, 1.0, use_ema=False).answer)


def test_same_seed_gives_identical_weights_bit_for_bit():
    x, outcome, _ = training_log(np.random.default_rng(1), 512, drift=0.0)
    runs = []
    for _ in range(2):
        model = init_model(SMALL, np.random.default_rng(5))
        fit(model, x, outcome, CFG.training, epochs=1, supervision_steps=2, rng=np.random.default_rng(6))
        runs.append(model)
    for name in runs[0].params:
        assert runs[0].params[name].tobytes() == runs[1].params[name].tobytes()
        assert runs[0].ema[name].tobytes() == runs[1].ema[name].tobytes()
    other = init_model(SMALL, np.random.default_rng(6))
    assert not np.array_equal(other.params["embed.w"], init_model(SMALL, np.random.default_rng(5)).params["embed.w"])


def test_checkpoint_round_trip_gives_identical_predictions(small_trained, pretraining_holdout, tmp_path):
    model, _ = small_trained
    path = tmp_path / "model.npz"
    save_checkpoint(path, model, {"note": "test"})
    loaded, metadata = load_checkpoint(path, expected=SMALL)
    x = pretraining_holdout[0][:100]
    before, after = model.infer(x, 3, 0.7), loaded.infer(x, 3, 0.7)
    assert metadata == {"note": "test"}
    assert np.array_equal(before.answer, after.answer) and np.array_equal(before.steps, after.steps)


def test_shipped_model_is_close_to_the_best_structured_only_model_at_every_step(shipped):
    """The truth includes what only the replies say, so the yardstick for a model of the structured fields
    is the exact structured-only probability: the shipped checkpoint is within 0.01 nats of its excess
    log-loss at every step (measured at this commit: 0.0562 and 0.0564 at steps 1 and 6, floor ~0.051)."""
    model, _ = shipped
    market = sample_market(np.random.default_rng(12345), 3000, 1, 0.0)
    floor = structured_only_probability(market.pairs(), 0.0)[:, 0]
    outcome = (np.random.default_rng(1).random(3000) < market.p_true[:, 0]).astype(np.float32)
    best = evaluate_probability(floor, market.p_true[:, 0])
    for step in evaluate(model, market.features[:, 0], outcome, market.p_true[:, 0], CFG.model.supervision_steps):
        assert step["excess_log_loss"] < best + 0.01, (step, best)


def evaluate_probability(p_model, p_true) -> float:
    p_model, p = np.clip(p_model, 1e-6, 1 - 1e-6), np.clip(p_true, 1e-6, 1 - 1e-6)
    return float(np.mean(p * np.log(p / p_model) + (1 - p) * np.log((1 - p) / (1 - p_model))))


def test_shipped_checkpoint_beats_the_from_scratch_default_run(shipped, pretraining_holdout):
    model, metadata = shipped
    assert metadata["kind"] == "pretrained" and "command" in metadata
    scratch_cfg = CFG.replace(**{"training.from_scratch": True})
    scratch = starting_model(scratch_cfg)
    fine_tune(scratch_cfg, scratch, UI(quiet=True))
    cap = CFG.model.supervision_steps
    shipped_loss = evaluate(model, *pretraining_holdout, cap)[-1]["excess_log_loss"]
    scratch_loss = evaluate(scratch, *pretraining_holdout, cap)[-1]["excess_log_loss"]
    assert shipped_loss < scratch_loss


def test_halting_threshold_one_runs_to_the_cap_and_zero_stops_at_step_one(shipped, pretraining_holdout):
    model, _ = shipped
    x = pretraining_holdout[0][:400]
    never = model.infer(x, 5, halt_threshold=1.0)
    always = model.infer(x, 5, halt_threshold=0.0)
    assert np.all(never.steps == 5) and not never.halted.any()
    assert np.all(always.steps == 1) and always.halted.all()


def test_mid_threshold_halts_some_samples_early(shipped, pretraining_holdout):
    model, _ = shipped
    x, _, _ = pretraining_holdout
    cap = CFG.model.supervision_steps
    result = model.infer(x, cap, halt_threshold=0.8)
    assert 1 <= result.steps.mean() < cap
    assert result.halted.any() and not result.halted.all()
    assert np.all(result.steps[result.halted] <= cap)


def test_halting_head_is_more_confident_where_the_answer_has_settled(shipped, pretraining_holdout):
    """The halting target is 'this step's P(convert) will not move any more': q must rank settled answers higher."""
    model, _ = shipped
    x, _, _ = pretraining_holdout
    cap = CFG.model.supervision_steps
    result = model.infer(x, cap, halt_threshold=1.0, trajectory=True)
    settled = np.abs(result.trajectory[0] - result.trajectory[-1]) <= CFG.training.halting_tolerance
    q = result.halt_logits[0]
    assert settled.any() and not settled.all()
    assert q[settled].mean() > q[~settled].mean()


@pytest.mark.parametrize("step_cap,threshold", [(1, 0.5), (3, 0.8), (6, 0.7), (6, 0.95), (4, 0.0), (5, 1.0)])
def test_reading_halting_off_a_full_depth_trajectory_matches_adaptive_inference(shipped, pretraining_holdout,
                                                                                step_cap, threshold):
    """The simulation reads each chunk's halting off one full-depth pass; it must equal calling infer."""
    model, _ = shipped
    x = pretraining_holdout[0][:500]
    full = model.infer(x, CFG.model.supervision_steps, halt_threshold=1.0, trajectory=True)
    adaptive = model.infer(x, step_cap, threshold)
    steps, halted = halting_steps(full.halt_logits, step_cap, threshold)
    assert np.array_equal(steps, adaptive.steps) and np.array_equal(halted, adaptive.halted)
    read_off = full.trajectory[steps - 1, np.arange(len(x))]
    np.testing.assert_allclose(read_off, adaptive.answer, rtol=1e-5, atol=1e-6)
