"""Ablation: does recursion buy anything over a plain MLP of the same size?

Both are trained from scratch on the same samples of the default market
(drift from config) with the same optimiser settings, batch size and epochs,
and scored on the same held-out pairs against their observed outcomes
(log-loss) and against the true probability (excess log-loss = KL(p_true ||
p_model), 0 = perfect, free of outcome noise), as training.evaluate does.

The TRM makes N_sup optimiser steps per batch (deep supervision); a plain MLP
makes one. So the MLP is trained twice: once with the same epochs (fewer
updates) and once repeating each batch N_sup times (the same number of
optimiser steps). Seeds run in parallel processes (one BLAS thread each).
"""

from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np

from trm_demo.evaluation import mean_ci as mean_ci95

PROB_EPS = 1e-6


def scores(p_model, outcome, p_true) -> dict:
    p_hat = np.clip(np.asarray(p_model, np.float64), PROB_EPS, 1 - PROB_EPS)
    p = np.clip(p_true, PROB_EPS, 1 - PROB_EPS)
    log_loss = -(outcome * np.log(p_hat) + (1 - outcome) * np.log(1 - p_hat)).mean()
    excess = (p * np.log(p / p_hat) + (1 - p) * np.log((1 - p) / (1 - p_hat))).mean()
    return {"log_loss": float(log_loss), "excess_log_loss": float(excess)}


def _data(seed: int, samples: int, holdout: int, drift: float):
    from trm_demo.market import training_log
    train = training_log(np.random.default_rng([seed, 0]), samples, drift)
    test = training_log(np.random.default_rng([seed, 1]), holdout, drift)
    return train, test


def _job(job: tuple) -> dict:
    """One model, one seed: train from scratch and score on the held-out pairs."""
    kind, seed, samples, holdout, epochs, updates = job
    from trm_demo.cli import model_spec
    from trm_demo.config import load_config
    from trm_demo.training import evaluate, fit
    from trm_demo.weights import init_model
    from bench import mlp_baseline as mlp
    cfg = load_config()
    (x, outcome, _), (hx, ho, hp) = _data(seed, samples, holdout, cfg.market.drift)
    started = time.perf_counter()
    cap = cfg.model.supervision_steps
    if kind == "trm":
        model = init_model(model_spec(cfg), np.random.default_rng([seed, 2]))
        fit(model, x, outcome, cfg.training, epochs, cap, np.random.default_rng([seed, 3]),
            cfg.thermostat.initial_halt_threshold)
        seconds = time.perf_counter() - started
        per_cap = evaluate(model, hx, ho, hp, cap)
        adaptive = model.infer(hx, cap, cfg.thermostat.initial_halt_threshold)
        return {"kind": kind, "seed": seed, "seconds": seconds, "parameters": model.n_parameters,
                "per_step_cap": [{"step_cap": r["step"], "log_loss": r["log_loss"],
                                  "excess_log_loss": r["excess_log_loss"]} for r in per_cap],
                "adaptive": {**scores(adaptive.answer, ho, hp), "mean_steps": float(adaptive.steps.mean()),
                             "halt_threshold": cfg.thermostat.initial_halt_threshold}}
    trm_parameters = init_model(model_spec(cfg), np.random.default_rng(0)).n_parameters
    width = mlp.hidden_width_for(trm_parameters, x.shape[1])
    weights = mlp.train(x, outcome, cfg.training, epochs, updates, width, np.random.default_rng([seed, 2]))
    seconds = time.perf_counter() - started
    return {"kind": kind, "seed": seed, "seconds": seconds, "parameters": mlp.n_parameters(weights),
            "width": width, "updates_per_batch": updates, **scores(mlp.predict(weights, hx), ho, hp)}


def _references(seed: int, samples: int, holdout: int, drift: float) -> dict:
    (_, outcome, _), (_, ho, hp) = _data(seed, samples, holdout, drift)
    return {"constant": scores(np.full(len(ho), outcome.mean()), ho, hp), "truth": scores(hp, ho, hp)}


def run(seeds: list[int], samples: int, holdout: int, epochs: int, workers: int = 2) -> dict:
    from trm_demo.config import load_config
    cfg = load_config()
    n_sup = cfg.model.supervision_steps
    jobs = [("trm", s, samples, holdout, epochs, n_sup) for s in seeds]            # longest first
    jobs += [("mlp", s, samples, holdout, epochs, u) for s in seeds for u in (n_sup, 1)]
    started = time.perf_counter()
    results = _in_processes(jobs, workers)
    wall = time.perf_counter() - started
    rows = _table(results, n_sup, [_references(s, samples, holdout, cfg.market.drift) for s in seeds])
    return {"settings": {"seeds": seeds, "samples": samples, "holdout": holdout, "epochs": epochs,
                         "batch_size": cfg.training.batch_size, "learning_rate": cfg.training.learning_rate,
                         "drift": cfg.market.drift, "supervision_steps": n_sup},
            "rows": rows, "runs": results, "wall_seconds": wall}


def _in_processes(jobs: list[tuple], workers: int) -> list[dict]:
    """Spawned workers with one BLAS thread each (forking after OpenBLAS started its threads can hang)."""
    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            return pool.map(_job, jobs, chunksize=1)
    finally:
        if saved is None:
            os.environ.pop("OPENBLAS_NUM_THREADS", None)
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved


def _table(results: list[dict], n_sup: int, references: list[dict]) -> list[dict]:
    """One row per model: mean and 95 % interval over seeds of held-out log-loss and excess log-loss."""
    def row(name, runs, pick, extra=None):
        picked = [pick(r) for r in runs]
        return {"model": name, "parameters": runs[0]["parameters"] if "parameters" in runs[0] else None,
                "log_loss": mean_ci95([p["log_loss"] for p in picked]),
                "excess_log_loss": mean_ci95([p["excess_log_loss"] for p in picked]),
                "train_seconds": float(np.median([r["seconds"] for r in runs])) if "seconds" in runs[0] else None,
                **(extra or {})}

    trm = [r for r in results if r["kind"] == "trm"]
    rows = [row(f"TRM, step cap {cap}", trm, lambda r, c=cap: r["per_step_cap"][c - 1]) for cap in range(1, n_sup + 1)]
    rows.append(row("TRM, adaptive halting", trm, lambda r: r["adaptive"],
                    {"mean_steps": float(np.mean([r["adaptive"]["mean_steps"] for r in trm])),
                     "halt_threshold": trm[0]["adaptive"]["halt_threshold"]}))
    for updates in (n_sup, 1):
        mlps = [r for r in results if r["kind"] == "mlp" and r["updates_per_batch"] == updates]
        label = "same optimiser steps" if updates == n_sup else "same epochs, 1 update per batch"
        rows.append(row(f"MLP 2x{mlps[0]['width']} ({label})", mlps, lambda r: r))
    rows.append(row("constant (training mean)", references, lambda r: r["constant"]))
    rows.append(row("true probability (floor)", references, lambda r: r["truth"]))
    return rows
