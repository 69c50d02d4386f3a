"""Comparisons at equal training compute: a one-pass TRM and a flat MLP, each given the main model's FLOPs."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Callable

import numpy as np

from trm_demo.trm import mlp
from trm_demo.trm.engine import TRMSpec
from trm_demo.report.formats import pct
from trm_demo.sudoku.evaluate import run_steps, step_metrics
from trm_demo.sudoku.puzzles import PuzzleSet, augment
from trm_demo.sudoku.train import N_CLASSES, VOCAB, PuzzleTraining, learning_rate_at, sudoku_spec, train_model
from trm_demo.trm.optimiser import Optimiser
from trm_demo.trm.training import token_losses

FLAT_MLP_ACTIVATION = "relu"


def trm_flops_per_iteration(spec: TRMSpec, slots: int) -> float:
    """Multiply-adds x2 of one supervision step + its backward (backward ~ 2x forward, last cycle only)."""
    width = spec.expansion
    channels = 2 * spec.seq_len * spec.hidden_size * (spec.hidden_size * width * 3)   # w_in (2 halves) + w_out
    tokens = 2 * spec.hidden_size * spec.seq_len * (spec.seq_len * width * 3)
    per_net = spec.n_blocks * (channels + tokens)
    nets_forward = spec.outer_steps * (spec.n_cycles + 1)
    nets_backward = spec.n_cycles + 1
    return slots * per_net * (nets_forward + 2 * nets_backward)


def flat_mlp_logits(params: dict, boards: np.ndarray):
    """The baseline the paper argues against: one feed-forward pass over the one-hot flattened board.

    boards: (B, 36) tokens -> logits (B, 36, 6), and the cache for mlp.backward."""
    one_hot = np.eye(VOCAB, dtype=np.float32)[boards].reshape(len(boards), -1)
    logits, cache = mlp.forward(params, one_hot, FLAT_MLP_ACTIVATION)
    return logits.reshape(len(boards), 36, N_CLASSES), cache


def train_flat_mlp(train: PuzzleSet, cfg: PuzzleTraining, flops_budget: float, hidden: int = 512,
                   batch: int = 128) -> tuple[dict, int]:
    """Train on augmented puzzles with the same optimiser step (clipping, AdamW, EMA) until the TRM's FLOP budget is spent.

    Returns the EMA weights and the iterations taken."""
    rng = np.random.default_rng([cfg.seed, 3])
    params = mlp.init([36 * VOCAB, hidden, hidden, 36 * N_CLASSES], rng, "he")
    ema = {k: v.copy() for k, v in params.items()}
    iterations = max(int(flops_budget / (3 * mlp.flops_per_sample(params) * batch)), 1)
    schedule = PuzzleTraining(**{**asdict(cfg), "iterations": iterations})
    optimiser = Optimiser.from_knobs(cfg)
    for iteration in range(iterations):
        picks = rng.integers(len(train), size=batch)
        boards, solutions = augment(train.puzzles[picks], train.solutions[picks], rng)
        logits, cache = flat_mlp_logits(params, boards)
        _, _, d_logits, _, _ = token_losses(logits, np.zeros(batch, np.float32), solutions - 1, 0.0)
        grads = mlp.backward(params, d_logits.astype(np.float32).reshape(batch, -1), FLAT_MLP_ACTIVATION, cache)
        optimiser.adamw.learning_rate = learning_rate_at(iteration, schedule)
        if not np.isfinite(optimiser.step(params, ema, grads)):
            raise FloatingPointError(f"flat MLP: non-finite gradient at iteration {iteration}; "
                                     "lower --learning-rate or change --seed")
    return ema, iterations


def compare_baselines(cfg: PuzzleTraining, train: PuzzleSet, held_out: PuzzleSet,
                      on_phase: Callable[[str], None] | None = None) -> list[dict]:
    """One-pass TRM (N_sup=1, n=1, T=1) and a flat MLP, each given the main model's training FLOPs."""
    main_spec = sudoku_spec(cfg.hidden_size, cfg.n_cycles, cfg.outer_steps)
    budget = cfg.iterations * trm_flops_per_iteration(main_spec, cfg.slots)
    rows = []
    one_pass_spec = sudoku_spec(cfg.hidden_size, 1, 1)
    one_pass_iterations = int(budget / trm_flops_per_iteration(one_pass_spec, cfg.slots))
    one_pass_cfg = PuzzleTraining(**{**asdict(cfg), "n_cycles": 1, "outer_steps": 1, "supervision_steps": 1,
                                     "iterations": one_pass_iterations})
    if on_phase:
        on_phase(f"comparison 1/2: one-pass model (N_sup=1, n=1, T=1), {one_pass_iterations} iterations")
    started = time.perf_counter()
    model, _ = train_model(one_pass_cfg, train)
    seconds = time.perf_counter() - started
    exact = step_metrics(run_steps(model, held_out.puzzles), held_out.puzzles, held_out.solutions)["exact_solve"]
    rows.append({"name": "one-pass TRM (N_sup=1, n=1, T=1)", "n_parameters": model.n_parameters,
                 "iterations": one_pass_iterations, "training_seconds": seconds, "exact_solve_by_step": exact,
                 "summary": f"{pct(exact[0])} at step 1; iterated: {pct(exact[3])} at step 4, "
                            f"{pct(exact[7])} at step 8, {pct(exact[-1])} at step {len(exact)} "
                            f"({model.n_parameters:,} parameters, {one_pass_iterations} iterations)"})
    if on_phase:
        on_phase("comparison 2/2: flat MLP on the flattened board")
    started = time.perf_counter()
    weights, iterations = train_flat_mlp(train, cfg, budget)
    seconds = time.perf_counter() - started
    logits, _ = flat_mlp_logits(weights, held_out.puzzles)
    right = logits.argmax(axis=-1) + 1 == held_out.solutions
    exact_mlp = float(right.all(axis=1).mean())
    blanks = held_out.puzzles == 0
    cells = float((right & blanks).sum() / blanks.sum())
    rows.append({"name": "flat MLP (one pass, 2 hidden layers of 512)", "n_parameters": mlp.n_parameters(weights),
                 "iterations": iterations, "training_seconds": seconds, "exact_solve": exact_mlp,
                 "blank_cell_accuracy": cells,
                 "summary": f"{pct(exact_mlp)} exact, {pct(cells)} of blank cells right "
                            f"({mlp.n_parameters(weights):,} parameters, {iterations} iterations of 128)"})
    return rows
