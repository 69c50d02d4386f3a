"""Deep supervision: the TRM training loop and the epoch loop that keeps the best validated EMA.

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
from dataclasses import dataclass
from typing import Callable

import numpy as np

from trm_demo.trm.engine import Inference, halting_steps, initial_state, logit, sigmoid, supervision_step, supervision_step_backward
from trm_demo.trm.knobs import TrainingKnobs
from trm_demo.trm.optimiser import Optimiser
from trm_demo.trm.weights import TRM

PROB_EPS = 1e-6   # probabilities in every log are clipped to [eps, 1 - eps]


def softplus(a):
    return np.logaddexp(0.0, a)


def binary_losses(logits, halt_logits, outcome, settled, halting_weight):
    """Mean BCE of the prediction against the outcome and of the halting head against `settled`. All (B,)."""
    batch = len(outcome)
    loss = _mean(softplus(logits) - outcome * logits)
    settled = settled.astype(logits.dtype)
    halt_loss = _mean(softplus(halt_logits) - settled * halt_logits)
    d_logits = (sigmoid(logits) - outcome) / batch
    d_halt = halting_weight * (sigmoid(halt_logits) - settled) / batch
    return loss, halt_loss, d_logits, d_halt, settled


def _mean(a):
    # np.mean's value (the pairwise sum divided by the count) without its Python wrapper, ~3 µs twice a step
    return np.add.reduce(a, axis=None) / a.size


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


def supervised_update(model: TRM, optimiser: Optimiser, x, y, z, target, halting_weight: float, settled=None) -> Step:
    """One deep-supervision step and its optimiser step: forward, both losses, backward, then `Optimiser.step`.

    Shared by the tabular loop below (`settled`: its halting target) and the Sudoku ACT loop
    (sudoku/train.py), whose halting target, "board exactly right", comes from the step itself."""
    y, z, logits, q, cache = supervision_step(model.params, model.spec, x, y, z)
    if model.spec.is_sequence:
        loss, halt_loss, d_logits, d_halt, correct = token_losses(logits, q, target, halting_weight)
    else:
        loss, halt_loss, d_logits, d_halt, correct = binary_losses(logits, q, target, settled, halting_weight)
    if not np.isfinite(loss):
        return Step(y, z, q, float(loss), float(halt_loss), correct, float("nan"), "loss")
    grads = supervision_step_backward(d_logits, d_halt, model.params, model.spec, cache,
                                      optimiser.zero_grads(model.params, model.ema))
    norm = optimiser.step(model.params, model.ema, grads)
    return Step(y, z, q, float(loss), float(halt_loss), correct, norm, None if np.isfinite(norm) else "gradient")


# --- the epoch loop with validation selection: the tabular TRM's (fit) and the ablation's MLP ---

def batches(n: int, batch_size: int, rng: np.random.Generator):
    """One epoch's row indices, shuffled, in batches of `batch_size` (the last may be smaller)."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def train_epochs(ema: dict, epochs: int, train_epoch: Callable[[int], tuple[dict, str | None]],
                 validate: Callable[[], dict] | None, on_epoch: Callable[[dict], None] | None = None
                 ) -> tuple[list[dict], dict | None]:
    """Train epoch by epoch and keep, in `ema`, the EMA weights of the epoch that validates best.

    train_epoch(epoch) -> (its record, why training must stop or None); a stopped epoch is not
    validated and ends the loop. validate() -> the EMA's scores, with "validation_log_loss" (lower
    is better) among them, added to the epoch's record. The starting weights are epoch 0's
    candidate; a later epoch replaces the choice only with a strictly lower loss. Returns the
    records and {"epoch", **its scores} of the choice; without `validate`, nothing is selected
    (None) and the last EMA stays."""
    chosen = {"epoch": 0, **validate()} if validate else None
    kept = _copy(ema) if validate else None
    log = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        record, stopped = train_epoch(epoch)
        record = {"epoch": epoch, **record}
        if validate and not stopped:
            scores = validate()
            record.update(scores)
            if scores["validation_log_loss"] < chosen["validation_log_loss"]:
                chosen, kept = {"epoch": epoch, **scores}, _copy(ema)
        record["wall_clock"] = {"seconds": time.perf_counter() - started}
        if stopped:
            record["stopped"] = stopped
        log.append(record)
        if on_epoch:
            on_epoch(record)
        if stopped:
            break
    if validate:
        ema.update(kept)
    return log, chosen


def _copy(weights: dict) -> dict:
    return {name: w.copy() for name, w in weights.items()}


def fit(model: TRM, x: np.ndarray, target: np.ndarray, cfg: TrainingKnobs, epochs: int,
        supervision_steps: int, rng: np.random.Generator, halt_threshold: float = 0.5,
        on_epoch: Callable[[dict], None] | None = None, train_halting: bool = True) -> dict:
    """Train every weight by deep supervision; keep the EMA weights of the best epoch on a validation split.

    The last `cfg.validation_share` of (x, target) is never trained on: after each
    epoch the EMA model's log-loss against those observed outcomes is measured at
    every step cap, and the epoch (and the step cap) with the lowest one wins.
    Returns {"epochs": one record per epoch, "selected": {epoch, step_cap, validation_log_loss}}
    (epoch 0 is the starting weights; step_cap None when nothing was held out).
    If a loss or gradient turns non-finite, training stops before that update is
    applied, so the model keeps its last good weights; the last record says why.
    train_halting=False leaves the halting head out of the loss (weight 0, target "never settled") and skips
    the full-depth pass per batch its target needs (~0.6 s of the default run's 2.9 s, issue 24): for a run
    whose halt threshold is 1.0 the head never stops anything.
    """
    (x_train, t_train), (x_valid, t_valid) = validation_split(x, target, cfg.validation_share if epochs else 0.0)
    optimiser = Optimiser.from_knobs(cfg)
    halt_at = logit(halt_threshold)
    halting_weight = cfg.halting_weight if train_halting else 0.0

    def train_epoch(epoch: int) -> tuple[dict, str | None]:
        totals = {"loss": 0.0, "halting_loss": 0.0, "settled": 0.0, "grad_norm": 0.0, "steps": 0.0}
        n_updates = n_batches = 0
        for rows in batches(len(x_train), cfg.batch_size, rng):
            xb, tb = x_train[rows], t_train[rows]
            settled = (_settled(model, xb, supervision_steps, cfg.halting_tolerance) if train_halting
                       else np.zeros((supervision_steps, len(rows)), dtype=bool))
            y, z = initial_state(model.buffers, model.spec, len(rows))
            halt_step = np.full(len(rows), supervision_steps)
            for step in range(1, supervision_steps + 1):
                result = supervised_update(model, optimiser, xb, y, z, tb, halting_weight, settled[step - 1])
                if result.problem:
                    return _epoch_record(totals, n_updates, n_batches), \
                        f"non-finite {result.problem} at epoch {epoch}; kept the last good weights"
                y, z = result.y, result.z
                halt_step = np.where((halt_step == supervision_steps) & (result.halt_logits >= halt_at), step, halt_step)
                totals["loss"] += result.loss
                totals["halting_loss"] += result.halting_loss
                totals["grad_norm"] += result.grad_norm
                totals["settled"] += float(result.correct.mean())
                n_updates += 1
            totals["steps"] += float(halt_step.mean())
            n_batches += 1
        return _epoch_record(totals, n_updates, n_batches), None

    def validate() -> dict:
        cap, loss = _best_cap(model, x_valid, t_valid, supervision_steps)
        return {"validation_step_cap": cap, "validation_log_loss": loss}

    log, chosen = train_epochs(model.ema, epochs, train_epoch, validate if len(x_valid) else None, on_epoch)
    selected = ({"epoch": chosen["epoch"], "step_cap": chosen["validation_step_cap"],
                 "validation_log_loss": chosen["validation_log_loss"]} if chosen else
                {"epoch": 0, "step_cap": None, "validation_log_loss": None})   # nothing validated
    return {"epochs": log, "selected": selected}


def _epoch_record(totals: dict, n_updates: int, n_batches: int) -> dict:
    return {"loss": totals["loss"] / max(n_updates, 1),
            "halting_loss": totals["halting_loss"] / max(n_updates, 1),
            "settled_share": totals["settled"] / max(n_updates, 1),
            "mean_halt_step": totals["steps"] / max(n_batches, 1),
            "grad_norm": totals["grad_norm"] / max(n_updates, 1),
            "optimizer_steps": n_updates}


def _settled(model: TRM, x, supervision_steps: int, tolerance: float) -> np.ndarray:
    """Halting target per step, (S, B): will this step's answer stay within `tolerance` of the full-depth one?"""
    path = model.infer(x, supervision_steps, halt_threshold=1.0, trajectory=True, use_ema=False).trajectory
    return np.abs(path - path[-1]) <= tolerance


def _best_cap(model: TRM, x, outcome, supervision_steps: int) -> tuple[int, float]:
    """The shallowest step cap within one standard error of the best validation log-loss, and its log-loss.

    The one-standard-error rule: steps cost compute, and on this task the caps'
    log-losses differ by less than the validation set can resolve (measured), so
    a deeper cap must be clearly better to be chosen."""
    return best_cap(log_loss(model.infer(x, supervision_steps, halt_threshold=1.0, trajectory=True).trajectory,
                             outcome))


def best_cap(losses: np.ndarray) -> tuple[int, float]:
    """The one-standard-error choice of `_best_cap`, from per-step, per-sample validation losses (S, B)."""
    best = int(np.argmin(losses.mean(axis=1)))
    gap = losses - losses[best]                                                   # paired, per sample
    standard_error = gap.std(axis=1) / np.sqrt(losses.shape[1])
    cap = int(np.flatnonzero(gap.mean(axis=1) <= standard_error)[0])
    return cap + 1, float(losses[cap].mean())


def evaluate(model: TRM, x: np.ndarray, outcome: np.ndarray, p_true: np.ndarray, step_cap: int,
             inferred: Inference | None = None) -> list[dict]:
    """Held-out quality of the EMA model after each supervision step 1..step_cap (`inferred`: `full_depth(model, x,
    step_cap)` if the caller has it, so one pass serves this and `halting_comparison`)."""
    path = (inferred or full_depth(model, x, step_cap)).trajectory
    loss, excess = log_loss(path, outcome).mean(axis=1), excess_log_loss(path, p_true).mean(axis=1)
    accuracy = ((path >= 0.5) == (outcome > 0.5)).mean(axis=1)
    return [{"step": s + 1, "log_loss": float(loss[s]), "excess_log_loss": float(excess[s]),
             "accuracy": float(accuracy[s])} for s in range(step_cap)]


def full_depth(model: TRM, x: np.ndarray, step_cap: int) -> Inference:
    """The EMA model's answer and halt logit after every step 1..step_cap, every sample run to the cap."""
    return model.infer(x, step_cap, halt_threshold=1.0, trajectory=True)


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
                       rng: np.random.Generator, inferred: Inference | None = None) -> list[dict]:
    """Does the halting head stop at the right place? Held-out excess log-loss of three ways to spend depth.

    For each halt threshold: the head's own stopping; random stopping with the same
    steps, shuffled across samples (same mean depth, no knowledge of the sample);
    and the fixed cap nearest that mean depth. All read off one full-depth pass.
    """
    result = inferred or full_depth(model, x, step_cap)
    return halting_rows(excess_log_loss(result.trajectory, p_true), result.halt_logits, step_cap, thresholds, rng)


def halting_rows(excess: np.ndarray, halt_logits: np.ndarray, step_cap: int, thresholds: tuple,
                 rng: np.random.Generator) -> list[dict]:
    """`halting_comparison`'s rows from a full-depth pass's per-step excess log-loss and halt logits, both (S, B)."""
    columns = np.arange(excess.shape[1])
    rows = []
    for threshold in thresholds:
        steps, _ = halting_steps(halt_logits, step_cap, threshold)
        shuffled = rng.permutation(steps)
        fixed = int(np.clip(np.rint(steps.mean()), 1, step_cap))
        rows.append({"halt_threshold": threshold, "mean_steps": float(steps.mean()),
                     "halting_head": float(excess[steps - 1, columns].mean()),
                     "random_stopping": float(excess[shuffled - 1, columns].mean()),
                     "fixed_cap": fixed, "fixed_cap_excess": float(excess[fixed - 1].mean())})
    return rows
