"""Evaluating the Sudoku TRM, step by step.

Evaluation runs the EMA weights for 1..16 supervision steps on held-out puzzles
(orbit-disjoint from training) and records, per step, the board and the halting
logit, so exact-solve, blank-cell accuracy and every halting threshold come
from one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trm_demo.trm.engine import sigmoid
from trm_demo.sudoku.puzzles import PuzzleSet
from trm_demo.trm.weights import TRM

EVAL_STEPS = 16
HALT_THRESHOLDS = (0.5, 0.9, 0.99)


@dataclass
class StepRecord:
    """The EMA model's answer after every supervision step, for a batch of puzzles."""
    boards: np.ndarray       # (steps, N, 36) predicted digits 1..6
    halt_logits: np.ndarray  # (steps, N)


def run_steps(model: TRM, puzzles: np.ndarray, steps: int = EVAL_STEPS, use_ema: bool = True) -> StepRecord:
    """Every puzzle runs all `steps` supervision steps; each step's board and halting logit are kept."""
    result = model.infer(puzzles, steps, halt_threshold=1.0, trajectory=True, use_ema=use_ema)
    return StepRecord(result.trajectory + 1, result.halt_logits)


def step_metrics(record: StepRecord, puzzles: np.ndarray, solutions: np.ndarray) -> dict:
    """Exact-solve and blank-cell accuracy after each step."""
    # boards: (S, N, 36); solutions: (N, 36)
    right = record.boards == solutions[None]
    blanks = puzzles == 0
    exact = right.all(axis=2).mean(axis=1)
    blank_cells = (right & blanks[None]).sum(axis=(1, 2)) / max(int(blanks.sum()), 1)
    return {"exact_solve": [float(v) for v in exact], "blank_cell_accuracy": [float(v) for v in blank_cells]}


def halting_metrics(record: StepRecord, solutions: np.ndarray, thresholds=HALT_THRESHOLDS) -> list[dict]:
    """Stop each puzzle at the first step with sigmoid(q) >= threshold (or the last step)."""
    steps = len(record.boards)
    exact = (record.boards == solutions[None]).all(axis=2)               # (S, N)
    rows = []
    for threshold in thresholds:
        stops = sigmoid(record.halt_logits) >= threshold                 # (S, N)
        stop_step = np.where(stops.any(axis=0), stops.argmax(axis=0), steps - 1)
        solved = exact[stop_step, np.arange(exact.shape[1])]
        rows.append({"rule": f"halting head: sigmoid(q) >= {threshold:g}", "threshold": threshold,
                     "mean_steps": float(stop_step.mean() + 1),
                     "exact_solve": float(solved.mean()), "halted_before_cap": float(stops.any(axis=0).mean())})
    # A rule needing no head: stop once the answer equals the previous step's (a fixed point).
    unchanged = np.concatenate([np.zeros((1, exact.shape[1]), bool),
                                (record.boards[1:] == record.boards[:-1]).all(axis=2)])
    stop_step = np.where(unchanged.any(axis=0), unchanged.argmax(axis=0), steps - 1)
    rows.append({"rule": "answer unchanged since the previous step", "threshold": None,
                 "mean_steps": float(stop_step.mean() + 1),
                 "exact_solve": float(exact[stop_step, np.arange(exact.shape[1])].mean()),
                 "halted_before_cap": float(unchanged.any(axis=0).mean())})
    return rows


def difficulty_band(rounds: int) -> str:
    """Rounds of singles, with the rare extremes pooled so every band has enough puzzles."""
    return "3 or fewer" if rounds <= 3 else "6 or more" if rounds >= 6 else str(rounds)


def evaluate_sudoku(model: TRM, held_out: PuzzleSet, steps: int = EVAL_STEPS) -> dict:
    record = run_steps(model, held_out.puzzles, steps)
    overall = step_metrics(record, held_out.puzzles, held_out.solutions)
    by_difficulty = {}
    bands = np.array([difficulty_band(int(d)) for d in held_out.difficulty])
    for band in ("3 or fewer", "4", "5", "6 or more"):
        rows = bands == band
        if not rows.any():
            continue
        part = StepRecord(record.boards[:, rows], record.halt_logits[:, rows])
        by_difficulty[band] = {"puzzles": int(rows.sum()),
                                      **step_metrics(part, held_out.puzzles[rows], held_out.solutions[rows])}
    exact = (record.boards == held_out.solutions[None]).all(axis=2)
    halt_agrees = ((record.halt_logits > 0) == exact).mean(axis=1)
    return {"puzzles": len(held_out), "steps": list(range(1, steps + 1)), **overall,
            "by_difficulty": by_difficulty, "halting": halting_metrics(record, held_out.solutions),
            "halt_agrees_with_exact": [float(v) for v in halt_agrees]}
