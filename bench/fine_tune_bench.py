"""What fine-tuning buys, per epoch: held-out excess log-loss of the model the run would keep after 0..E epochs.

For each seed (default the held-out 600-609) the default run's fine-tuning runs once for E epochs; after each
epoch the EMA is scored on the run's hold-out at the step cap its validation chose. "Epochs N" keeps what
`fit` with N epochs keeps: the epoch 0..N with the lowest validation log-loss (epoch 0: the checkpoint at the
step cap its own run selected), so one E-epoch run answers every N <= E exactly (the batches of the first N
epochs do not depend on E). With and without training the halting head (`fit(train_halting=...)`).

python -m bench.fine_tune_bench [--seeds 600-609] [--epochs 5]    # prints a Markdown table
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np


def seed_curve(seed: int, epochs: int, train_halting: bool) -> tuple[list[float], list[float], float]:
    """(holdout excess of the unchanged checkpoint, then of epoch 0..E's EMA at its validated cap; validation
    log-loss of epoch 0..E; CPU seconds of fit)."""
    from trm_demo.config import load_config
    from trm_demo.funnel.market import training_log
    from trm_demo.funnel.pipeline import starting_model
    from trm_demo.funnel.rng import rng_for
    from trm_demo.trm.training import _best_cap, excess_log_loss, fit, full_depth, validation_split
    cfg = load_config(overrides={"simulation.seed": seed})
    t, cap, drift = cfg.training, cfg.model.supervision_steps, cfg.market.drift
    model = starting_model(cfg)
    x, outcome, _ = training_log(rng_for(seed, "recent_log"), t.samples, drift)
    hold_x, _, hold_p = training_log(rng_for(seed, "holdout"), t.holdout_samples, drift)

    def excess_at(step_cap: int) -> float:
        return float(excess_log_loss(full_depth(model, hold_x, cap).trajectory[step_cap - 1], hold_p).mean())

    _, (x_valid, t_valid) = validation_split(x, outcome, t.validation_share)
    start_cap, start_loss = _best_cap(model, x_valid, t_valid, cap)   # fit's epoch-0 candidate
    excess, validation = [excess_at(start_cap)], [start_loss]
    unchanged = excess_at(model.decisions["selected"]["step_cap"] or cap)   # 0 epochs: the checkpoint's own cap

    def on_epoch(record: dict) -> None:
        excess.append(excess_at(record["validation_step_cap"]))
        validation.append(record["validation_log_loss"])

    started = time.process_time()
    fit(model, x, outcome, t, epochs, cap, rng_for(seed, "training"), cfg.simulation.trm_halt_threshold,
        on_epoch, train_halting=train_halting)
    return [unchanged, *excess], validation, time.process_time() - started


def kept(excess: list[float], validation: list[float], n: int) -> float:
    """The holdout excess of what fit with n epochs keeps (strictly lower validation loss replaces the choice);
    excess[0] is the unchanged checkpoint (n = 0), excess[1 + k] epoch k's EMA."""
    if n == 0:
        return excess[0]
    excess, best = excess[1:], 0
    for epoch in range(1, n + 1):
        if validation[epoch] < validation[best]:
            best = epoch
    return excess[best]


def interval(values: list[float]) -> str:
    a = np.asarray(values)
    half = 2.262 * a.std(ddof=1) / math.sqrt(len(a)) if len(a) == 10 else 1.96 * a.std(ddof=1) / math.sqrt(len(a))
    return f"{a.mean():.5f} ± {half:.5f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="600-609")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    lo, hi = (int(s) for s in args.seeds.split("-"))
    seeds = list(range(lo, hi + 1))
    counts = [n for n in (0, 1, 2, 3, 5, 8) if n <= args.epochs]
    print(f"seeds {lo}-{hi}, held-out excess log-loss (nats) of the kept model, mean ± 95 % CI over seeds")
    print("| halting head trained | " + " | ".join(f"{n} epochs" for n in counts) + " | fit CPU s (E epochs) |")
    print("|---|" + "---|" * (len(counts) + 1))
    for train_halting in (True, False):
        curves = [seed_curve(seed, args.epochs, train_halting) for seed in seeds]
        cells = [interval([kept(e, v, n) for e, v, _ in curves]) for n in counts]
        print(f"| {'yes' if train_halting else 'no'} | " + " | ".join(cells)
              + f" | {np.mean([s for _, _, s in curves]):.2f} |")
        for n in counts[:-1]:
            gaps = [kept(e, v, n) - kept(e, v, counts[-1]) for e, v, _ in curves]
            print(f"  paired ({n} epochs) - ({counts[-1]} epochs): {interval(gaps)}")


if __name__ == "__main__":
    main()
