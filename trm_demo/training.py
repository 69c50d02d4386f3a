"""Deep supervision: the TRM training loop, AdamW, gradient clipping and EMA.

As in the paper, each batch starts from the fixed initial (y, z) and takes up
to N_sup supervision steps. Every step is a full forward/backward through the
last recursion cycle, a loss on both heads and one optimiser step; the carry
(y, z) moves on to the next step detached.

Halting target (tabular task): "this step's decision is right", i.e. the step's
prediction p >= 0.5 agrees with the observed outcome. It is the paper's
"the prediction is exactly correct" for a yes/no answer. It teaches q to
estimate P(this answer is right), which is low for the hard, coin-flip cases,
so those keep recursing while clear cases stop early. (The alternative, "p has
stopped moving", needs the last step's p before the first step's update.)
For sequences the target is the paper's: the whole board is exactly right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .config import TrainingConfig
from .engine import initial_state, logit, sigmoid, supervision_step, supervision_step_backward
from .weights import TRM

PROB_EPS = 1e-6   # probabilities in every log are clipped to [eps, 1 - eps]


def softplus(a):
    return np.logaddexp(0.0, a)


def binary_losses(logits, halt_logits, outcome, halting_weight):
    """Mean BCE of the prediction and of the halting head, and their gradients. All (B,)."""
    batch = len(outcome)
    loss = np.mean(softplus(logits) - outcome * logits)
    correct = ((logits >= 0) == (outcome > 0.5)).astype(logits.dtype)
    halt_loss = np.mean(softplus(halt_logits) - correct * halt_logits)
    d_logits = (sigmoid(logits) - outcome) / batch
    d_halt = halting_weight * (sigmoid(halt_logits) - correct) / batch
    return loss, halt_loss, d_logits, d_halt, correct


def token_losses(logits, halt_logits, target, halting_weight):
    """Per-token softmax cross-entropy, and BCE of the halting head against 'board exactly right'."""
    batch, length, _ = logits.shape
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, target[..., None], axis=-1)[..., 0]
    loss = -picked.mean()
    solved = (logits.argmax(axis=-1) == target).all(axis=1).astype(logits.dtype)
    halt_loss = np.mean(softplus(halt_logits) - solved * halt_logits)
    d_logits = np.exp(log_probs)
    np.put_along_axis(d_logits, target[..., None], np.take_along_axis(d_logits, target[..., None], -1) - 1, -1)
    d_logits /= batch * length
    d_halt = halting_weight * (sigmoid(halt_logits) - solved) / batch
    return loss, halt_loss, d_logits, d_halt, solved


@dataclass
class AdamW:
    """Adam with decoupled weight decay (Loshchilov & Hutter), decay on weight matrices only."""
    learning_rate: float
    beta1: float
    beta2: float
    weight_decay: float
    eps: float = 1e-8
    t: int = 0
    m: dict = field(default_factory=dict)
    v: dict = field(default_factory=dict)

    def step(self, params: dict, grads: dict) -> None:
        self.t += 1
        correction1 = 1 - self.beta1 ** self.t
        correction2 = 1 - self.beta2 ** self.t
        for name, p in params.items():
            g = grads[name]
            m = self.m.setdefault(name, np.zeros_like(p))
            v = self.v.setdefault(name, np.zeros_like(p))
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            if p.ndim >= 2:
                p *= 1 - self.learning_rate * self.weight_decay
            p -= self.learning_rate * (m / correction1) / (np.sqrt(v / correction2) + self.eps)


def clip_gradients(grads: dict, max_norm: float) -> float:
    """Scale all gradients so their global norm is at most max_norm; return the norm before clipping."""
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    if np.isfinite(norm) and norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return norm


def update_ema(ema: dict, params: dict, decay: float) -> None:
    for name, p in params.items():
        ema[name] *= decay
        ema[name] += (1 - decay) * p


@dataclass
class Step:
    """What one supervision step produced; `problem` names a non-finite loss or gradient (then nothing was updated)."""
    y: np.ndarray
    z: np.ndarray
    halt_logits: np.ndarray
    loss: float
    halting_loss: float
    correct: np.ndarray
    grad_norm: float
    problem: str | None = None


def supervised_update(model: TRM, optimiser: AdamW, x, y, z, target, halting_weight: float, grad_clip: float,
                      ema_decay: float) -> Step:
    """One deep-supervision step and its optimiser step: forward, both losses, backward, clip, AdamW, EMA.

    Shared by the tabular loop below and the Sudoku ACT loop (reasoning.py)."""
    losses = token_losses if model.spec.is_sequence else binary_losses
    y, z, logits, q, cache = supervision_step(model.params, model.spec, x, y, z)
    loss, halt_loss, d_logits, d_halt, correct = losses(logits, q, target, halting_weight)
    grads = supervision_step_backward(d_logits, d_halt, model.params, model.spec, cache)
    norm = clip_gradients(grads, grad_clip)
    problem = "loss" if not np.isfinite(loss) else "gradient" if not np.isfinite(norm) else None
    if problem is None:
        optimiser.step(model.params, grads)
        update_ema(model.ema, model.params, ema_decay)
    return Step(y, z, q, float(loss), float(halt_loss), correct, norm, problem)


def fit(model: TRM, x: np.ndarray, target: np.ndarray, cfg: TrainingConfig, epochs: int,
        supervision_steps: int, rng: np.random.Generator, halt_threshold: float = 0.5,
        on_epoch: Callable[[dict], None] | None = None) -> list[dict]:
    """Train every weight by deep supervision; returns one log record per epoch.

    If a loss or gradient turns non-finite, training stops before that update is
    applied, so the model keeps its last good weights; the last record says why.
    """
    spec = model.spec
    optimiser = AdamW(cfg.learning_rate, cfg.beta1, cfg.beta2, cfg.weight_decay)
    halt_at = logit(halt_threshold)
    log = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        totals = {"loss": 0.0, "halting_loss": 0.0, "accuracy": 0.0, "grad_norm": 0.0, "steps": 0.0}
        n_updates = n_batches = 0
        stopped = None
        order = rng.permutation(len(x))
        for start in range(0, len(x), cfg.batch_size):
            rows = order[start:start + cfg.batch_size]
            xb, tb = x[rows], target[rows]
            y, z = initial_state(model.buffers, spec, len(rows))
            halt_step = np.full(len(rows), supervision_steps)
            for step in range(1, supervision_steps + 1):
                result = supervised_update(model, optimiser, xb, y, z, tb, cfg.halting_weight, cfg.grad_clip,
                                           cfg.ema_decay)
                if result.problem:
                    stopped = f"non-finite {result.problem} at epoch {epoch}; kept the last good weights"
                    break
                y, z = result.y, result.z
                halt_step = np.where((halt_step == supervision_steps) & (result.halt_logits >= halt_at), step, halt_step)
                totals["loss"] += result.loss
                totals["halting_loss"] += result.halting_loss
                totals["grad_norm"] += result.grad_norm
                n_updates += 1
            if stopped:
                break
            totals["accuracy"] += float(result.correct.mean())
            totals["steps"] += float(halt_step.mean())
            n_batches += 1
        record = {"epoch": epoch,
                  "loss": totals["loss"] / max(n_updates, 1),
                  "halting_loss": totals["halting_loss"] / max(n_updates, 1),
                  "accuracy": totals["accuracy"] / max(n_batches, 1),
                  "mean_halt_step": totals["steps"] / max(n_batches, 1),
                  "grad_norm": totals["grad_norm"] / max(n_updates, 1),
                  "optimizer_steps": n_updates,
                  "wall_clock": {"seconds": time.perf_counter() - started}}
        if stopped:
            record["stopped"] = stopped
        log.append(record)
        if on_epoch:
            on_epoch(record)
        if stopped:
            break
    return log


def evaluate(model: TRM, x: np.ndarray, outcome: np.ndarray, p_true: np.ndarray, step_cap: int) -> list[dict]:
    """Held-out quality of the EMA model after each supervision step 1..step_cap.

    excess_log_loss is KL(p_true || p_model): how much worse than the true
    probability the model is, free of outcome noise (0 = perfect).
    """
    path = model.infer(x, step_cap, halt_threshold=1.0, trajectory=True).trajectory
    p_hat = np.clip(path, PROB_EPS, 1 - PROB_EPS)
    p = np.clip(p_true, PROB_EPS, 1 - PROB_EPS)
    log_loss = -(outcome * np.log(p_hat) + (1 - outcome) * np.log(1 - p_hat)).mean(axis=1)
    excess = (p * np.log(p / p_hat) + (1 - p) * np.log((1 - p) / (1 - p_hat))).mean(axis=1)
    accuracy = ((p_hat >= 0.5) == (outcome > 0.5)).mean(axis=1)
    return [{"step": s + 1, "log_loss": float(log_loss[s]), "excess_log_loss": float(excess[s]),
             "accuracy": float(accuracy[s])} for s in range(step_cap)]
