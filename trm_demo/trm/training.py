"""Deep supervision: the TRM training loop, AdamW, gradient clipping and EMA.

As in the paper, each batch starts from the fixed initial (y, z) and takes up
to N_sup supervision steps. Every step is a full forward/backward through the
last recursion cycle, a loss on both heads and one optimiser step; the carry
(y, z) moves on to the next step detached.

Halting target (tabular task): "this step's answer will not change any more",
i.e. |p_step - p_final| <= tolerance, with p_final read off a no-gradient pass
to full depth at the batch's starting weights. Its first version, "this step's
decision matches the noisy 0/1 outcome", taught confidence, not convergence:
it stopped no better than random stopping at the same mean depth (measured).
For sequences the target is the paper's: the whole board is exactly right.

Recipe (tabular): EMA with a warm-up, a validation split of the recent log
(observed outcomes only) that picks the epoch whose EMA weights are kept and
the step cap that reads them best.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from trm_demo.trm.engine import halting_steps, initial_state, logit, sigmoid, supervision_step, supervision_step_backward
from trm_demo.trm.weights import TRM

PROB_EPS = 1e-6   # probabilities in every log are clipped to [eps, 1 - eps]


@dataclass(frozen=True)
class TrainingKnobs:
    """What `fit` reads: plain numbers, so this package never sees the app's config (which mirrors them)."""
    batch_size: int
    learning_rate: float
    weight_decay: float
    beta1: float
    beta2: float
    grad_clip: float
    ema_decay: float          # the EMA's target decay, reached after a warm-up (ema_decay_at)
    halting_weight: float     # weight of the halting head's loss beside the prediction's
    halting_tolerance: float  # |p_step - p_final| at or below this counts as "settled"
    validation_share: float   # the last share of the log, never trained on, picks epoch and step cap


def softplus(a):
    return np.logaddexp(0.0, a)


def binary_losses(logits, halt_logits, outcome, settled, halting_weight):
    """Mean BCE of the prediction against the outcome and of the halting head against `settled`. All (B,)."""
    batch = len(outcome)
    loss = np.mean(softplus(logits) - outcome * logits)
    settled = settled.astype(logits.dtype)
    halt_loss = np.mean(softplus(halt_logits) - settled * halt_logits)
    d_logits = (sigmoid(logits) - outcome) / batch
    d_halt = halting_weight * (sigmoid(halt_logits) - settled) / batch
    return loss, halt_loss, d_logits, d_halt, settled


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


def ema_decay_at(update: int, decay: float) -> float:
    """EMA decay with a warm-up: (1 + t) / (10 + t), capped at `decay`.

    A flat 0.999 from the first step keeps the starting weights for ~1,000
    updates; the warm-up forgets them within the first few (Sudoku: 90 % vs
    99.5 % exact-solve at step 8 without and with it, measured)."""
    return min(decay, (1.0 + update) / (10.0 + update))


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
                      ema_decay: float, settled=None) -> Step:
    """One deep-supervision step and its optimiser step: forward, both losses, backward, clip, AdamW, EMA.

    Shared by the tabular loop below (`settled`: its halting target) and the Sudoku ACT loop
    (sudoku/train.py), whose halting target, "board exactly right", comes from the step itself."""
    y, z, logits, q, cache = supervision_step(model.params, model.spec, x, y, z)
    if model.spec.is_sequence:
        loss, halt_loss, d_logits, d_halt, correct = token_losses(logits, q, target, halting_weight)
    else:
        loss, halt_loss, d_logits, d_halt, correct = binary_losses(logits, q, target, settled, halting_weight)
    grads = supervision_step_backward(d_logits, d_halt, model.params, model.spec, cache)
    norm = clip_gradients(grads, grad_clip)
    problem = "loss" if not np.isfinite(loss) else "gradient" if not np.isfinite(norm) else None
    if problem is None:
        optimiser.step(model.params, grads)
        update_ema(model.ema, model.params, ema_decay)
    return Step(y, z, q, float(loss), float(halt_loss), correct, norm, problem)


def fit(model: TRM, x: np.ndarray, target: np.ndarray, cfg: TrainingKnobs, epochs: int,
        supervision_steps: int, rng: np.random.Generator, halt_threshold: float = 0.5,
        on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Train every weight by deep supervision; keep the EMA weights of the best epoch on a validation split.

    The last `cfg.validation_share` of (x, target) is never trained on: after each
    epoch the EMA model's log-loss against those observed outcomes is measured at
    every step cap, and the epoch (and the step cap) with the lowest one wins.
    Returns {"epochs": one record per epoch, "selected": {epoch, step_cap, validation_log_loss}}
    (epoch 0 is the starting weights; step_cap None when nothing was held out).
    If a loss or gradient turns non-finite, training stops before that update is
    applied, so the model keeps its last good weights; the last record says why.
    """
    spec = model.spec
    (x_train, t_train), (x_valid, t_valid) = validation_split(x, target, cfg.validation_share if epochs else 0.0)
    validating = len(x_valid) > 0
    optimiser = AdamW(cfg.learning_rate, cfg.beta1, cfg.beta2, cfg.weight_decay)
    halt_at = logit(halt_threshold)
    log = []
    best = {"epoch": 0, "step_cap": None, "validation_log_loss": None}   # None: nothing validated
    best_ema = {name: w.copy() for name, w in model.ema.items()}
    if validating:
        best["step_cap"], best["validation_log_loss"] = _best_cap(model, x_valid, t_valid, supervision_steps)
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        totals = {"loss": 0.0, "halting_loss": 0.0, "settled": 0.0, "grad_norm": 0.0, "steps": 0.0}
        n_updates = n_batches = 0
        stopped = None
        order = rng.permutation(len(x_train))
        for start in range(0, len(x_train), cfg.batch_size):
            rows = order[start:start + cfg.batch_size]
            xb, tb = x_train[rows], t_train[rows]
            settled = _settled(model, xb, supervision_steps, cfg.halting_tolerance)
            y, z = initial_state(model.buffers, spec, len(rows))
            halt_step = np.full(len(rows), supervision_steps)
            for step in range(1, supervision_steps + 1):
                result = supervised_update(model, optimiser, xb, y, z, tb, cfg.halting_weight, cfg.grad_clip,
                                           ema_decay_at(optimiser.t, cfg.ema_decay), settled[step - 1])
                if result.problem:
                    stopped = f"non-finite {result.problem} at epoch {epoch}; kept the last good weights"
                    break
                y, z = result.y, result.z
                halt_step = np.where((halt_step == supervision_steps) & (result.halt_logits >= halt_at), step, halt_step)
                totals["loss"] += result.loss
                totals["halting_loss"] += result.halting_loss
                totals["grad_norm"] += result.grad_norm
                totals["settled"] += float(result.correct.mean())
                n_updates += 1
            if stopped:
                break
            totals["steps"] += float(halt_step.mean())
            n_batches += 1
        record = {"epoch": epoch,
                  "loss": totals["loss"] / max(n_updates, 1),
                  "halting_loss": totals["halting_loss"] / max(n_updates, 1),
                  "settled_share": totals["settled"] / max(n_updates, 1),
                  "mean_halt_step": totals["steps"] / max(n_batches, 1),
                  "grad_norm": totals["grad_norm"] / max(n_updates, 1),
                  "optimizer_steps": n_updates}
        if validating and not stopped:
            record["validation_step_cap"], record["validation_log_loss"] = _best_cap(
                model, x_valid, t_valid, supervision_steps)
            if best["validation_log_loss"] is None or record["validation_log_loss"] < best["validation_log_loss"]:
                best = {"epoch": epoch, "step_cap": record["validation_step_cap"],
                        "validation_log_loss": record["validation_log_loss"]}
                best_ema = {name: w.copy() for name, w in model.ema.items()}
        record["wall_clock"] = {"seconds": time.perf_counter() - started}
        if stopped:
            record["stopped"] = stopped
        log.append(record)
        if on_epoch:
            on_epoch(record)
        if stopped:
            break
    if validating:
        model.ema.update(best_ema)
    return {"epochs": log, "selected": best}


def _settled(model: TRM, x, supervision_steps: int, tolerance: float) -> np.ndarray:
    """Halting target per step, (S, B): will this step's answer stay within `tolerance` of the full-depth one?"""
    path = model.infer(x, supervision_steps, halt_threshold=1.0, trajectory=True, use_ema=False).trajectory
    return np.abs(path - path[-1]) <= tolerance


def _best_cap(model: TRM, x, outcome, supervision_steps: int) -> tuple[int, float]:
    """The shallowest step cap within one standard error of the best validation log-loss, and its log-loss.

    The one-standard-error rule: steps cost compute, and on this task the caps'
    log-losses differ by less than the validation set can resolve (measured), so
    a deeper cap must be clearly better to be chosen."""
    losses = log_loss(model.infer(x, supervision_steps, halt_threshold=1.0, trajectory=True).trajectory,
                      outcome)                                                      # (S, B)
    best = int(np.argmin(losses.mean(axis=1)))
    gap = losses - losses[best]                                                   # paired, per sample
    standard_error = gap.std(axis=1) / np.sqrt(len(x))
    cap = int(np.flatnonzero(gap.mean(axis=1) <= standard_error)[0])
    return cap + 1, float(losses[cap].mean())


def evaluate(model: TRM, x: np.ndarray, outcome: np.ndarray, p_true: np.ndarray, step_cap: int) -> list[dict]:
    """Held-out quality of the EMA model after each supervision step 1..step_cap."""
    path = model.infer(x, step_cap, halt_threshold=1.0, trajectory=True).trajectory
    loss, excess = log_loss(path, outcome).mean(axis=1), excess_log_loss(path, p_true).mean(axis=1)
    accuracy = ((path >= 0.5) == (outcome > 0.5)).mean(axis=1)
    return [{"step": s + 1, "log_loss": float(loss[s]), "excess_log_loss": float(excess[s]),
             "accuracy": float(accuracy[s])} for s in range(step_cap)]


def log_loss(p_model, outcome):
    """Per-sample log-loss against observed 0/1 outcomes, probabilities clipped to [eps, 1 - eps]."""
    p_hat = np.clip(p_model, PROB_EPS, 1 - PROB_EPS)
    return -(outcome * np.log(p_hat) + (1 - outcome) * np.log(1 - p_hat))


def excess_log_loss(p_model, p_true):
    """Per-sample KL(p_true || p_model): how much worse than the true probability, free of outcome noise (0 = perfect)."""
    p_hat, p = np.clip(p_model, PROB_EPS, 1 - PROB_EPS), np.clip(p_true, PROB_EPS, 1 - PROB_EPS)
    return p * np.log(p / p_hat) + (1 - p) * np.log((1 - p) / (1 - p_hat))


def validation_split(x, target, share: float) -> tuple[tuple, tuple]:
    """fit's split, ((x, target) trained on, (x, target) validating): the last round(n * share) rows validate."""
    cut = len(x) - int(round(len(x) * share))
    return (x[:cut], target[:cut]), (x[cut:], target[cut:])


def halting_comparison(model: TRM, x: np.ndarray, p_true: np.ndarray, step_cap: int, thresholds: tuple,
                       rng: np.random.Generator) -> list[dict]:
    """Does the halting head stop at the right place? Held-out excess log-loss of three ways to spend depth.

    For each halt threshold: the head's own stopping; random stopping with the same
    steps, shuffled across samples (same mean depth, no knowledge of the sample);
    and the fixed cap nearest that mean depth. All read off one full-depth pass.
    """
    result = model.infer(x, step_cap, halt_threshold=1.0, trajectory=True)
    excess = excess_log_loss(result.trajectory, p_true)                           # (S, B)
    columns = np.arange(len(x))
    rows = []
    for threshold in thresholds:
        steps, _ = halting_steps(result.halt_logits, step_cap, threshold)
        shuffled = rng.permutation(steps)
        fixed = int(np.clip(np.rint(steps.mean()), 1, step_cap))
        rows.append({"halt_threshold": threshold, "mean_steps": float(steps.mean()),
                     "halting_head": float(excess[steps - 1, columns].mean()),
                     "random_stopping": float(excess[shuffled - 1, columns].mean()),
                     "fixed_cap": fixed, "fixed_cap_excess": float(excess[fixed - 1].mean())})
    return rows
