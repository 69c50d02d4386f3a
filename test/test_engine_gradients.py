"""The hand-written backward pass against central finite differences, in float64, on every entry of every tensor.

Every entry, not a sample: a bug confined to one column of `w_in` escaped an
8-entries-per-tensor check in 2 of 6 cases (measured).

The objective is the one the backward pass differentiates: the first T-1
recursion cycles are detached, and so is the halting head's input y in the
tabular task (for sequences the halting gradient flows into the least sure
cell's y, the cell picked at the base weights), so the check computes those
once at the base weights and perturbs only what carries gradient.
"""

import numpy as np
import pytest

from finite_differences import worst_relative_errors
from trm_demo.trm.engine import TRMSpec, embed, initial_state, latent_recursion, supervision_step, supervision_step_backward
from trm_demo.trm.training import binary_losses, token_losses
from trm_demo.trm.weights import init_model

HALTING_WEIGHT = 0.7


def detached_objective(model, spec, x, y, z, target, losses):
    """Loss as a function of the weights, with stop-gradients exactly where the engine puts them."""
    base = model.params
    _, _, logits, q, cache = supervision_step(base, spec, x, y, z)
    y_detached, cell = cache[3], cache[4]                     # halting head input at the base weights
    for _ in range(spec.outer_steps - 1):                       # no-gradient cycles at the base weights
        emb, _ = embed(base, spec, x)
        y, z, _ = latent_recursion(base, spec, emb, y, z)

    def objective(params):
        last = TRMSpec(**{**spec.__dict__, "outer_steps": 1})
        y_live, _, logits, _, _ = supervision_step(params, last, x, y, z)
        halt_input = y_live[np.arange(len(y_live)), cell] if spec.is_sequence else y_detached
        q = (halt_input @ params["halt.w"])[..., 0] + params["halt.b"][0]
        loss, halt_loss, *_ = losses(logits, q, target, HALTING_WEIGHT)
        return loss + HALTING_WEIGHT * halt_loss

    _, _, d_logits, d_halt, _ = losses(logits, q, target, HALTING_WEIGHT)
    return objective, supervision_step_backward(d_logits, d_halt, base, spec, cache)


def max_relative_error(model, objective, grads, h=1e-5):
    return worst_relative_errors(model.params, lambda: objective(model.params), grads, h, floor=1e-3)


def perturbed_model(spec, seed):
    model = init_model(spec, np.random.default_rng(seed), dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    for name in model.params:   # move off the symmetric init (zero halting weights, unit gains)
        model.params[name] = model.params[name] + 0.1 * rng.standard_normal(model.params[name].shape)
    return model


@pytest.mark.parametrize("activation", ["swiglu", "gelu"])
@pytest.mark.parametrize("outer_steps", [1, 3])
def test_tabular_gradients_match_finite_differences(activation, outer_steps):
    spec = TRMSpec(n_inputs=5, hidden_size=6, expansion=2, n_cycles=2, outer_steps=outer_steps,
                   activation=activation, halt_bias_init=-1.0)
    rng = np.random.default_rng(3)
    model = perturbed_model(spec, 0)
    x = rng.standard_normal((7, 5))
    target = (rng.random(7) < 0.5).astype(float)
    y, z = initial_state(model.buffers, spec, 7)
    settled = rng.random(7) < 0.5   # the halting target is data here, as in training

    def losses(logits, q, outcome, weight):
        return binary_losses(logits, q, outcome, settled, weight)
    objective, grads = detached_objective(model, spec, x, y + 0.3 * rng.standard_normal(y.shape),
                                          z, target, losses)
    worst = max_relative_error(model, objective, grads)
    assert set(worst) == set(model.params)
    assert max(worst.values()) < 1e-6, worst


@pytest.mark.parametrize("outer_steps", [1, 2])
def test_sequence_gradients_match_finite_differences(outer_steps):
    spec = TRMSpec(n_inputs=4, hidden_size=6, expansion=2, n_cycles=2, outer_steps=outer_steps,
                   activation="swiglu", halt_bias_init=-1.0, seq_len=5, n_classes=3)
    rng = np.random.default_rng(4)
    model = perturbed_model(spec, 1)
    x = rng.integers(0, 4, (3, 5))
    target = rng.integers(0, 3, (3, 5))
    y, z = initial_state(model.buffers, spec, 3)
    objective, grads = detached_objective(model, spec, x, y, z, target, token_losses)
    worst = max_relative_error(model, objective, grads)
    assert set(worst) == set(model.params)
    assert max(worst.values()) < 1e-6, worst


@pytest.mark.parametrize("activation", ["swiglu", "gelu"])
@pytest.mark.parametrize("seq_len", [0, 5])
@pytest.mark.parametrize("outer_steps", [1, 2])
def test_a_step_without_its_tape_is_the_training_forward_bit_for_bit(activation, seq_len, outer_steps):
    """keep_tape=False (inference: engine.infer) keeps no caches and works partly in place: the same carry, answers
    and halt logits as the step that keeps them for backward, and no cache to run a backward pass on by mistake."""
    spec = TRMSpec(n_inputs=4, hidden_size=6, expansion=2, n_cycles=2, outer_steps=outer_steps,
                   activation=activation, halt_bias_init=-1.0, seq_len=seq_len, n_classes=3 if seq_len else 1)
    model = perturbed_model(spec, 2)
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, (3, seq_len)) if seq_len else rng.standard_normal((3, 4)).astype(np.float32)
    y, z = initial_state(model.buffers, spec, 3)
    *kept, cache = supervision_step(model.params, spec, x, y, z)
    *free, no_cache = supervision_step(model.params, spec, x, y, z, keep_tape=False)
    assert cache is not None and no_cache is None
    for a, b in zip(kept, free):
        np.testing.assert_array_equal(a, b)
