"""A plain feed-forward network in NumPy: affine layers with an activation between them.

    h_0 = x;  h_{i+1} = act(h_i @ w_i + b_i);  out = h_{L-1} @ w_{L-1} + b_{L-1}

Weights are a dict {"w0", "b0", "w1", ...}; `forward` returns the raw outputs
of the last layer (no activation) and a cache, `backward` turns d loss / d
outputs into gradients for every weight. Batched over rows: x is (B, sizes[0]).
"""

from __future__ import annotations

import numpy as np

from trm_demo.trm.engine import _gelu, _gelu_grad   # the engine's GELU: one definition of it in the code base


def _relu(pre):
    return np.maximum(pre, 0.0)


def _relu_grad(pre):
    return pre > 0


ACTIVATIONS = {"relu": (_relu, _relu_grad), "gelu": (_gelu, _gelu_grad)}
# Weight variance = scale / fan_in: "he" keeps ReLU activations from shrinking layer by layer
# (ReLU zeroes half of them); "lecun" is its counterpart for activations that pass both signs.
INIT_SCALES = {"he": 2.0, "lecun": 1.0}


def init(sizes: list[int], rng: np.random.Generator, init_scale: str, dtype=np.float32) -> dict:
    """Gaussian weights with variance INIT_SCALES[init_scale] / fan_in, zero biases."""
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        std = np.sqrt(INIT_SCALES[init_scale] / fan_in)
        params[f"w{i}"] = (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype)
        params[f"b{i}"] = np.zeros(fan_out, dtype)
    return params


def n_layers(params: dict) -> int:
    return len(params) // 2


def forward(params: dict, x, activation: str):
    """(B, sizes[0]) -> (B, sizes[-1]) outputs, and the cache `backward` needs."""
    act, _ = ACTIVATIONS[activation]
    inputs, pres = [], []          # each layer's input, each hidden layer's pre-activation
    h = x
    for i in range(n_layers(params) - 1):
        inputs.append(h)
        pres.append(h @ params[f"w{i}"] + params[f"b{i}"])
        h = act(pres[-1])
    last = n_layers(params) - 1
    inputs.append(h)
    return h @ params[f"w{last}"] + params[f"b{last}"], (inputs, pres)


def backward(params: dict, d_out, activation: str, cache) -> dict:
    """Gradients of every weight from d loss / d outputs, (B, sizes[-1])."""
    _, act_grad = ACTIVATIONS[activation]
    inputs, pres = cache
    grads, d = {}, d_out
    for i in reversed(range(n_layers(params))):
        grads[f"w{i}"] = inputs[i].T @ d
        grads[f"b{i}"] = d.sum(axis=0)
        if i:
            d = (d @ params[f"w{i}"].T) * act_grad(pres[i - 1])
    return grads


def n_parameters(params: dict) -> int:
    return int(sum(p.size for p in params.values()))


def flops_per_sample(params: dict) -> float:
    """Multiply-adds x2 of one forward pass for one row."""
    return 2.0 * sum(params[f"w{i}"].size for i in range(n_layers(params)))


def count_for(n_inputs: int, width: int, hidden_layers: int, n_outputs: int) -> int:
    """Weights and biases of n_inputs -> width (x hidden_layers) -> n_outputs."""
    sizes = [n_inputs] + [width] * hidden_layers + [n_outputs]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def width_for(n_parameters: int, n_inputs: int, hidden_layers: int, n_outputs: int) -> int:
    """The hidden width whose parameter count is closest to n_parameters (counts grow with width)."""
    width = 1
    while count_for(n_inputs, width + 1, hidden_layers, n_outputs) <= n_parameters:
        width += 1
    return min((width, width + 1), key=lambda w: abs(count_for(n_inputs, w, hidden_layers, n_outputs) - n_parameters))
