"""trm_demo.trm.mlp's hand-written backward pass against central finite differences, in float64, on every entry.

Every entry of every weight, not a sample: a bug confined to one column escapes
a sampled check (engine gradients, measured). The objective is a fixed random
linear read-out of the outputs, so d objective / d outputs is that read-out and
every output takes part.
"""

import numpy as np
import pytest

from finite_differences import worst_relative_errors
from trm_demo.trm import mlp

STEP = 1e-6


def objective_and_gradients(sizes, activation, seed):
    rng = np.random.default_rng(seed)
    params = mlp.init(sizes, rng, "he", dtype=np.float64)
    for name in params:   # move biases off zero so no layer starts symmetric
        params[name] += 0.1 * rng.standard_normal(params[name].shape)
    x = rng.standard_normal((9, sizes[0]))
    read_out = rng.standard_normal((9, sizes[-1]))
    out, cache = mlp.forward(params, x, activation)
    # ReLU has a kink at 0: a pre-activation within STEP of it would make the difference quotient straddle it
    assert min(np.abs(pre).min() for pre in cache[1]) > 10 * STEP

    def objective():
        return float(np.sum(mlp.forward(params, x, activation)[0] * read_out))

    return params, objective, mlp.backward(params, read_out, activation, cache)


def worst_errors(params, objective, grads) -> dict:
    return worst_relative_errors(params, objective, grads, STEP, floor=1e-6)


SHAPES = {"one hidden layer, one output": [4, 6, 1], "two hidden layers, several outputs": [5, 7, 6, 3]}


@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_weight_entry_matches_finite_differences(activation, shape):
    params, objective, grads = objective_and_gradients(SHAPES[shape], activation, seed=1)
    assert sorted(grads) == sorted(params)
    worst = worst_errors(params, objective, grads)
    assert max(worst.values()) < 1e-6, worst


def test_the_check_finds_one_wrong_entry():
    """A gradient wrong in a single entry of the first layer is caught: the check leaves no entry out."""
    params, objective, grads = objective_and_gradients(SHAPES["two hidden layers, several outputs"], "gelu", seed=1)
    grads["w0"][3, 5] += 1e-3
    assert worst_errors(params, objective, grads)["w0"] > 1e-6


@pytest.mark.parametrize("hidden_layers", [1, 2, 3])
def test_width_for_lands_closest(hidden_layers):
    target = 12_994
    width = mlp.width_for(target, 8, hidden_layers, 1)
    errors = {w: abs(mlp.count_for(8, w, hidden_layers, 1) - target) for w in (width - 1, width, width + 1)}
    assert errors[width] == min(errors.values())
    params = mlp.init([8] + [width] * hidden_layers + [1], np.random.default_rng(0), "lecun")
    assert mlp.n_parameters(params) == mlp.count_for(8, width, hidden_layers, 1)
