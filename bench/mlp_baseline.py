"""The ablation's baseline: a plain one-step MLP (features -> H -> H -> logit, GELU).

Trained like the TRM: BCE on observed outcomes, batches of training.batch_size,
the engine's AdamW and gradient clipping, an EMA copy used for evaluation.
"""

from __future__ import annotations

import math

import numpy as np

_GELU_C = math.sqrt(2.0 / math.pi)


def hidden_width_for(n_parameters: int, n_inputs: int) -> int:
    """H with F*H + H + H*H + H + H + 1 parameters closest to n_parameters."""
    # H^2 + (F + 3) H + 1 = n  ->  positive root
    b = n_inputs + 3
    return max(1, round((-b + math.sqrt(b * b + 4 * (n_parameters - 1))) / 2))


def init_mlp(n_inputs: int, width: int, rng: np.random.Generator, dtype=np.float32) -> dict:
    def normal(rows, cols):
        return (rng.standard_normal((rows, cols)) / math.sqrt(rows)).astype(dtype)
    return {"w1": normal(n_inputs, width), "b1": np.zeros(width, dtype),
            "w2": normal(width, width), "b2": np.zeros(width, dtype),
            "w3": normal(width, 1), "b3": np.zeros(1, dtype)}


def _gelu(a):
    t = np.tanh(_GELU_C * (a + 0.044715 * a * a * a))   # a * a * a: a**3 calls the slow pow()
    return 0.5 * a * (1 + t), t


def _gelu_grad(a, t):
    return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * _GELU_C * (1 + 3 * 0.044715 * a * a)


def forward(p: dict, x):
    # x: (B, F) -> logits (B,)
    a1 = x @ p["w1"] + p["b1"]
    h1, t1 = _gelu(a1)
    a2 = h1 @ p["w2"] + p["b2"]
    h2, t2 = _gelu(a2)
    return (h2 @ p["w3"] + p["b3"])[:, 0], (x, a1, t1, h1, a2, t2, h2)


def backward(p: dict, d_logits, cache) -> dict:
    x, a1, t1, h1, a2, t2, h2 = cache
    d3 = d_logits[:, None]
    d_a2 = (d3 @ p["w3"].T) * _gelu_grad(a2, t2)
    d_a1 = (d_a2 @ p["w2"].T) * _gelu_grad(a1, t1)
    return {"w3": h2.T @ d3, "b3": d3.sum(0), "w2": h1.T @ d_a2, "b2": d_a2.sum(0),
            "w1": x.T @ d_a1, "b1": d_a1.sum(0)}


def train(x, outcome, cfg_training, epochs: int, updates_per_batch: int, width: int,
          rng: np.random.Generator) -> dict:
    """Returns the EMA weights. updates_per_batch > 1 repeats each batch, matching the TRM's optimiser steps."""
    from trm_demo.training import AdamW, clip_gradients, update_ema
    t = cfg_training
    params = init_mlp(x.shape[1], width, rng)
    ema = {k: v.copy() for k, v in params.items()}
    optimiser = AdamW(t.learning_rate, t.beta1, t.beta2, t.weight_decay)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), t.batch_size):
            rows = order[start:start + t.batch_size]
            xb, tb = x[rows], outcome[rows]
            for _ in range(updates_per_batch):
                logits, cache = forward(params, xb)
                d_logits = (0.5 + 0.5 * np.tanh(0.5 * logits) - tb) / len(rows)   # d mean BCE / d logit
                grads = backward(params, d_logits.astype(xb.dtype), cache)
                clip_gradients(grads, t.grad_clip)
                optimiser.step(params, grads)
                update_ema(ema, params, t.ema_decay)
    return ema


def predict(params: dict, x) -> np.ndarray:
    logits, _ = forward(params, x)
    return 0.5 + 0.5 * np.tanh(0.5 * logits.astype(np.float64))


def n_parameters(params: dict) -> int:
    return int(sum(v.size for v in params.values()))
