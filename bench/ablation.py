"""Ablation: does recursion buy anything over a plain MLP of the same size? A fair protocol.

Per seed, every model gets:
- the same data: `samples` pairs of the default market at the config's drift,
  trained from scratch; scored on the same `holdout` pairs;
- the same selection: the last `training.validation_share` of the training
  pairs (observed outcomes only, never the true probability) is held out, and
  after every epoch the EMA weights' validation log-loss decides which epoch's
  EMA is kept (the TRM's `training.fit` also picks its step cap there); the
  same EMA warm-up and decay for both;
- the same budget in optimiser steps: the TRM takes N_sup per batch (deep
  supervision), the MLP one per batch over N_sup times the passes (repeating a
  batch N_sup times in a row is the TRM's recipe, not one an MLP would be given);
- parameter counts within 2 %: the MLP's hidden width is solved for the TRM's count.
Training wall time is measured and reported next to the steps.

Held-out scores: log-loss against the observed outcomes and excess log-loss
KL(p_true || p_model) (0 = perfect, free of outcome noise), as training.evaluate.
Rows: the TRM at every fixed step cap and at its validated cap, the TRM at T=3
(the previous default), the MLP; for reference the training mean, the best model
of the structured fields (exact Bayes, the floor here) and the true probability;
then the halting comparison of
training.halting_comparison. Seeds and models run in parallel processes (one
BLAS thread each).

`python -m bench --only ablation [--quick]` runs this section alone (about 8 minutes on 2 cores).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from bench.measure import in_processes
from trm_demo.funnel.evaluation import mean_ci as mean_ci95
from trm_demo.trm import mlp
from trm_demo.trm.training import excess_log_loss, log_loss

HALT_THRESHOLDS = (0.5, 0.8, 0.95)   # the halting comparison's operating points, as the page has always shown
PREVIOUS_OUTER_STEPS = 3        # T of the tabular default before the measured recipe
MLP_ACTIVATION = "gelu"
MLP_HIDDEN_LAYERS = 2
SIZE_TOLERANCE = 0.02           # parameter counts of the TRM and the MLP may differ by this share at most


def scores(p_model, outcome, p_true) -> dict:
    return {"log_loss": float(log_loss(p_model, outcome).mean()),
            "excess_log_loss": float(excess_log_loss(p_model, p_true).mean())}


def _data(seed: int, samples: int, holdout: int, drift: float):
    from trm_demo.funnel.market import training_log
    return (training_log(np.random.default_rng([seed, 0]), samples, drift),
            training_log(np.random.default_rng([seed, 1]), holdout, drift))


# --- the MLP's training: training.fit's recipe, one optimiser step per batch ---

def mlp_probability(params: dict, x, offset=0.0) -> np.ndarray:
    from trm_demo.trm.engine import sigmoid
    return sigmoid(offset + mlp.forward(params, x, MLP_ACTIVATION)[0][:, 0].astype(np.float64))


def fit_mlp(params: dict, x, outcome, cfg_training, passes: int, rng: np.random.Generator,
            offset=None) -> tuple[dict, dict]:
    """Train on all but the validation split; return the EMA weights of the pass with the lowest validation log-loss.
    `offset` (B,), when given, is added to the output logit (the reader comparison's fields-only logit).

    training.fit's loop (train_epochs: its batches, optimiser step, EMA warm-up and decay, and
    validation selection, pass 0, the initial EMA, a candidate too), one optimiser step per batch."""
    from trm_demo.trm.optimiser import Optimiser
    from trm_demo.trm.training import batches, train_epochs, validation_split
    t = cfg_training
    (x_train, t_train), (x_valid, t_valid) = validation_split(x, outcome, t.validation_share)
    offset = np.zeros(len(x), np.float32) if offset is None else offset.astype(np.float32)
    (o_train, _), (o_valid, _) = validation_split(offset, outcome, t.validation_share)
    ema = {k: v.copy() for k, v in params.items()}
    optimiser = Optimiser.from_knobs(t)

    def train_pass(_: int) -> tuple[dict, None]:
        for rows in batches(len(x_train), t.batch_size, rng):
            logits, cache = mlp.forward(params, x_train[rows], MLP_ACTIVATION)
            logits = logits + o_train[rows, None]
            d_logits = (0.5 + 0.5 * np.tanh(0.5 * logits) - t_train[rows, None]) / len(rows)   # d mean BCE / d logit
            optimiser.step(params, ema, mlp.backward(params, d_logits, MLP_ACTIVATION, cache))
        return {}, None

    def validate() -> dict:
        return {"validation_log_loss": float(log_loss(mlp_probability(ema, x_valid, o_valid), t_valid).mean())}

    _, chosen = train_epochs(ema, passes, train_pass, validate)
    return ema, {**chosen, "optimizer_steps": optimiser.updates}


# --- one job: one model, one seed ---

def _job(job: dict) -> dict:
    from trm_demo.funnel.pipeline import model_spec
    from trm_demo.config import load_config
    cfg = load_config()
    (x, outcome, _), held_out = _data(job["seed"], job["samples"], job["holdout"], cfg.market.drift)
    spec = model_spec(cfg)
    if job["kind"] == "mlp":
        return _mlp_job(job, cfg, x, outcome, held_out, _trm_parameters(spec))
    return _trm_job(job, cfg, dataclasses.replace(spec, outer_steps=job["outer_steps"]), x, outcome, held_out)


def _trm_parameters(spec) -> int:
    from trm_demo.trm.weights import init_model
    return init_model(spec, np.random.default_rng(0)).n_parameters


def _trm_job(job: dict, cfg, spec, x, outcome, held_out) -> dict:
    from trm_demo.trm.training import evaluate, fit, halting_comparison
    from trm_demo.trm.weights import init_model
    seed, n_sup = job["seed"], cfg.model.supervision_steps
    hx, ho, hp = held_out
    model = init_model(spec, np.random.default_rng([seed, 2]))
    started = time.perf_counter()
    log = fit(model, x, outcome, cfg.training, job["epochs"], n_sup, np.random.default_rng([seed, 3]),
              cfg.simulation.trm_halt_threshold)
    seconds = time.perf_counter() - started
    per_cap = evaluate(model, hx, ho, hp, n_sup)
    selected = log["selected"]
    steps_per_epoch = [e["optimizer_steps"] for e in log["epochs"]]

    return {"kind": "trm", "outer_steps": spec.outer_steps, "seed": seed, "seconds": seconds,
            "parameters": model.n_parameters, "optimizer_steps": sum(steps_per_epoch),
            "steps_at_selected": sum(steps_per_epoch[:selected["epoch"]]), "selected": selected,
            "per_step_cap": [{"log_loss": r["log_loss"], "excess_log_loss": r["excess_log_loss"]} for r in per_cap],
            "halting": halting_comparison(model, hx, hp, n_sup,
                                          HALT_THRESHOLDS,
                                          np.random.default_rng([seed, 4]))}


def _mlp_job(job: dict, cfg, x, outcome, held_out, trm_parameters: int) -> dict:
    seed, n_sup = job["seed"], cfg.model.supervision_steps
    hx, ho, hp = held_out
    width = mlp.width_for(trm_parameters, x.shape[1], MLP_HIDDEN_LAYERS, 1)
    n_parameters = mlp.count_for(x.shape[1], width, MLP_HIDDEN_LAYERS, 1)
    if abs(n_parameters - trm_parameters) > SIZE_TOLERANCE * trm_parameters:
        raise ValueError(f"no MLP width gives {trm_parameters:,} parameters within {SIZE_TOLERANCE:.0%} "
                         f"(closest: {n_parameters:,} at width {width})")
    params = mlp.init([x.shape[1]] + [width] * MLP_HIDDEN_LAYERS + [1], np.random.default_rng([seed, 2]), "lecun")
    started = time.perf_counter()
    weights, selected = fit_mlp(params, x, outcome, cfg.training, job["epochs"] * n_sup,
                                np.random.default_rng([seed, 3]))
    seconds = time.perf_counter() - started
    steps_per_pass = selected["optimizer_steps"] // max(job["epochs"] * n_sup, 1)
    return {"kind": "mlp", "seed": seed, "seconds": seconds, "parameters": mlp.n_parameters(weights), "width": width,
            "optimizer_steps": selected["optimizer_steps"], "steps_at_selected": steps_per_pass * selected["epoch"],
            "selected": {"epoch": selected["epoch"], "validation_log_loss": selected["validation_log_loss"]},
            "held_out": scores(mlp_probability(weights, hx), ho, hp)}


def _references(seed: int, samples: int, holdout: int, drift: float) -> dict:
    """The training mean; the best any model of the structured fields can do (the held-out market again, read
    exactly over the hidden factors: the floor for the TRM and the MLP); the true probability (replies included)."""
    from trm_demo.funnel.market import sample_market, structured_only_probability
    (_, outcome, _), (_, ho, hp) = _data(seed, samples, holdout, drift)
    fields = sample_market(np.random.default_rng([seed, 1]), holdout, 1, drift).pairs()
    return {"constant": scores(np.full(len(ho), outcome.mean()), ho, hp),
            "structured": scores(structured_only_probability(fields, drift)[:, 0], ho, hp),
            "truth": scores(hp, ho, hp)}


# --- the section ---

def run(seeds: list[int], samples: int, holdout: int, epochs: int, workers: int = 2) -> dict:
    from trm_demo.config import load_config
    cfg = load_config()
    default_t = cfg.model.outer_steps
    common = {"samples": samples, "holdout": holdout, "epochs": epochs}
    jobs = [{"kind": "trm", "outer_steps": t, "seed": s, **common}            # longest first
            for t in sorted({PREVIOUS_OUTER_STEPS, default_t}, reverse=True) for s in seeds]
    jobs += [{"kind": "mlp", "seed": s, **common} for s in seeds]
    started = time.perf_counter()
    results = in_processes(_job, jobs, workers)
    wall = time.perf_counter() - started
    references = [_references(s, samples, holdout, cfg.market.drift) for s in seeds]
    trm = [r for r in results if r["kind"] == "trm" and r["outer_steps"] == default_t]
    previous = [r for r in results if r["kind"] == "trm" and r["outer_steps"] == PREVIOUS_OUTER_STEPS]
    mlps = [r for r in results if r["kind"] == "mlp"]
    m = cfg.model
    return {"settings": {"seeds": seeds, "samples": samples, "holdout": holdout, "epochs": epochs,
                         "mlp_passes": epochs * m.supervision_steps, "batch_size": cfg.training.batch_size,
                         "learning_rate": cfg.training.learning_rate, "ema_decay": cfg.training.ema_decay,
                         "validation_share": cfg.training.validation_share, "drift": cfg.market.drift,
                         "supervision_steps": m.supervision_steps, "n_cycles": m.n_cycles, "outer_steps": default_t,
                         "hidden_size": m.hidden_size},
            "rows": _rows(trm, previous, mlps, references, m),
            "comparisons": [_compare(f"TRM (T={default_t}, validated step cap)", _validated(trm),
                                     f"MLP {MLP_HIDDEN_LAYERS}x{mlps[0]['width']}", [r["held_out"] for r in mlps]),
                            _compare(f"TRM T={default_t}", _validated(trm),
                                     f"TRM T={PREVIOUS_OUTER_STEPS}", _validated(previous))],
            "halting": halting_summary(trm), "runs": results, "wall_seconds": wall}


def _validated(runs: list[dict]) -> list[dict]:
    """Each TRM run's held-out scores at the step cap its validation split chose."""
    return [r["per_step_cap"][r["selected"]["step_cap"] - 1] for r in runs]


def _row(name: str, picked: list[dict], runs: list[dict] | None = None, note: str = "") -> dict:
    """Mean, 95 % interval and seed range of held-out log-loss and excess log-loss; budget and time of `runs`."""
    excess = [p["excess_log_loss"] for p in picked]
    row = {"model": name, "log_loss": mean_ci95([p["log_loss"] for p in picked]),
           "excess_log_loss": {**mean_ci95(excess), "low": min(excess), "high": max(excess)}, "note": note}
    if runs:
        row.update({"parameters": runs[0]["parameters"], "optimizer_steps": runs[0]["optimizer_steps"],
                    "steps_at_selected": float(np.mean([r["steps_at_selected"] for r in runs])),
                    "train_seconds": float(np.median([r["seconds"] for r in runs]))})
    return row


def _chosen(runs: list[dict], key: str) -> str:
    return ", ".join(str(r["selected"][key]) for r in runs)


def _rows(trm, previous, mlps, references, m) -> list[dict]:
    t = m.outer_steps
    rows = [_row(f"TRM T={t}, fixed step cap {cap}", [r["per_step_cap"][cap - 1] for r in trm], trm)
            for cap in range(1, m.supervision_steps + 1)]
    rows.append(_row(f"TRM T={t}, validated step cap", _validated(trm), trm,
                     f"caps {_chosen(trm, 'step_cap')}; epochs {_chosen(trm, 'epoch')}"))
    rows.append(_row(f"TRM T={PREVIOUS_OUTER_STEPS} (previous default), validated step cap", _validated(previous),
                     previous, f"caps {_chosen(previous, 'step_cap')}; epochs {_chosen(previous, 'epoch')}"))
    rows.append(_row(f"MLP {MLP_HIDDEN_LAYERS}x{mlps[0]['width']} {MLP_ACTIVATION}, validated epoch",
                     [r["held_out"] for r in mlps], mlps, f"passes {_chosen(mlps, 'epoch')}"))
    rows.append(_row("constant (training mean)", [r["constant"] for r in references]))
    rows.append(_row("best structured-only model (exact Bayes: the floor for every model above)",
                     [r["structured"] for r in references]))
    rows.append(_row("true probability (replies included)", [r["truth"] for r in references]))
    return rows


def _compare(a: str, a_scores: list[dict], b: str, b_scores: list[dict]) -> dict:
    """Paired by seed: held-out excess log-loss of a minus b (negative: a is better)."""
    a_excess = [s["excess_log_loss"] for s in a_scores]
    b_excess = [s["excess_log_loss"] for s in b_scores]
    return {"a": a, "b": b, "a_mean": float(np.mean(a_excess)), "b_mean": float(np.mean(b_excess)),
            "difference": mean_ci95(np.subtract(a_excess, b_excess))}


def halting_summary(trm: list[dict]) -> list[dict]:
    """Per halt threshold, over seeds: the head's stopping vs random stopping at the same steps vs the nearest fixed cap."""
    rows = []
    for i, first in enumerate(trm[0]["halting"]):
        per_seed = [r["halting"][i] for r in trm]
        head = [h["halting_head"] for h in per_seed]
        rows.append({"halt_threshold": first["halt_threshold"],
                     "mean_steps": mean_ci95([h["mean_steps"] for h in per_seed]),
                     "halting_head": mean_ci95(head),
                     "random_stopping": mean_ci95([h["random_stopping"] for h in per_seed]),
                     "fixed_caps": [h["fixed_cap"] for h in per_seed],
                     "fixed_cap": mean_ci95([h["fixed_cap_excess"] for h in per_seed]),
                     "head_minus_random": mean_ci95(np.subtract(head, [h["random_stopping"] for h in per_seed])),
                     "head_minus_fixed": mean_ci95(np.subtract(head, [h["fixed_cap_excess"] for h in per_seed]))})
    return rows
