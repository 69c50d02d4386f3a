"""Multi-seed evaluation: how sure are we? (`python main.py --seeds N`)

One run of 200 opportunities is a small sample. This reruns the whole pipeline
(fine-tuning included) for seeds s, s+1, ..., s+N-1 in parallel processes and
reports, per strategy, the mean and a 95 % confidence interval (Student's t)
of each measure, plus the *paired* per-seed differences of expected net value
(cascade - LLM, cascade - TRM, TRM - logistic, TRM - greedy) and each control's
counterfactual: with common random numbers both sides face the same jobs in
each seed, so a paired interval is much tighter than the two separate ones. Each seed's result depends only on its seed, so the table
is the same whatever the number of processes.

A run stopped by Ctrl-C or SIGTERM ends its workers before it exits (the pool
is terminated on the way out), so none is left running: the workers ignore
Ctrl-C (the terminal sends it to them too; the parent decides) and die at once
on the SIGTERM the pool's termination sends them.
"""

from __future__ import annotations

import math
import os
from multiprocessing import Pool
from typing import Callable

import numpy as np

from .config import Config
from .simulation import STRATEGIES
from .stop import worker_signals

MEASURES = ("expected_net_value", "net_value", "share_of_oracle_expected", "llm_reads", "llm_cost")
PAIRS = (("cascade", "llm"), ("cascade", "trm"), ("trm", "logistic"), ("trm", "greedy"))
# Two-sided 95 % Student-t quantiles by degrees of freedom; beyond 30 the normal 1.96 is close enough.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def mean_ci(values) -> dict:
    """Mean, the 95 % confidence interval of the mean ([low, high]) and its half-width."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        return {"mean": float(x.mean()) if n else None, "ci95": None, "half_width": None, "n": n}
    mean, half = float(x.mean()), float(t95(n - 1) * x.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "ci95": [mean - half, mean + half], "half_width": half, "n": n}


def t95(df: int) -> float:
    """Two-sided 95 % Student-t quantile for `df` degrees of freedom."""
    return _T95[df - 1] if df <= len(_T95) else 1.96


def verdict(diff: dict, what: str, per: str) -> str:
    """A sentence chosen by the numbers: significant only when the interval excludes zero."""
    mean, half = diff["mean"], diff["half_width"]
    if half is None:
        return f"{what}: {_dollars(mean, signed=True)} {per} (one seed: no interval)"
    if abs(mean) <= half:
        return (f"{what}: no significant difference ({_dollars(mean, signed=True)} ± {_dollars(half)} {per} "
                f"over {diff['n']} seeds)")
    word = "beats" if mean > 0 else "trails"
    return f"{what.replace(' vs ', f' {word} ')} by {_dollars(abs(mean))} ± {_dollars(half)} {per} over {diff['n']} seeds"


def _dollars(x: float, signed: bool = False) -> str:
    sign = ("+" if x >= 0 else "-") if signed else ""
    return f"{sign}${abs(x):,.0f}"


def summarise(per_seed: list[dict]) -> dict:
    """per_seed: one {"strategies", "counterfactuals"} dict per seed, in seed order. Expected net value throughout."""
    runs = [seed["strategies"] for seed in per_seed]
    # A share of oracle is None (undefined) when the oracle made nothing: such seeds are left out.
    table = {s: {m: mean_ci([run[s][m] for run in runs if run[s][m] is not None]) for m in MEASURES}
             for s in STRATEGIES}
    paired = {f"{a}-{b}": mean_ci([run[a]["expected_net_value"] - run[b]["expected_net_value"] for run in runs])
              for a, b in PAIRS}
    controls = {name: mean_ci([seed["counterfactuals"][name]["expected_net_value_delta"] for seed in per_seed])
                for name in ("thermostat", "sentinel")}
    sentences = [verdict(paired[f"{a}-{b}"], f"{NAMES[a]} vs {NAMES[b]}", "expected net value per run")
                 for a, b in PAIRS]
    return {"seeds": len(per_seed), "strategies": table, "paired": paired, "counterfactuals": controls,
            "verdicts": sentences,
            "per_seed_expected_net_value": {s: [run[s]["expected_net_value"] for run in runs] for s in STRATEGIES}}


NAMES = {"cascade": "cascade", "llm": "LLM alone", "trm": "TRM", "logistic": "logistic", "greedy": "greedy"}


def evaluate_seeds(cfg: Config, seeds: list[int], run_one: Callable[[Config], dict], workers: int | None = None,
                   on_done: Callable[[int], None] | None = None) -> dict:
    """Run `run_one` (config -> metrics["strategies"]) for every seed, in parallel; summarise in seed order."""
    configs = [cfg.replace(**{"simulation.seed": s}) for s in seeds]
    workers = workers or min(len(seeds), os.cpu_count() or 1)
    results: list[dict] = []
    if workers == 1:
        for c in configs:
            results.append(run_one(c))
            if on_done:
                on_done(len(results))
    else:
        # Leaving the block, normally or by an exception, terminates and joins every worker.
        with Pool(workers, initializer=worker_signals) as pool:
            for result in pool.imap(run_one, configs):   # imap keeps seed order, whatever finishes first
                results.append(result)
                if on_done:
                    on_done(len(results))
    summary = summarise(results)
    summary["seed_list"] = list(seeds)
    return summary
