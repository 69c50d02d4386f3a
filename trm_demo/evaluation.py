"""Multi-seed evaluation: how sure are we? (`python main.py --seeds N`)

One run of 200 opportunities is a small sample. This reruns the whole pipeline
(fine-tuning included) for seeds s, s+1, ..., s+N-1 in parallel processes and
reports, per strategy, the mean and a 95 % confidence interval (Student's t)
of each measure, plus the *paired* per-seed differences TRM - greedy and
TRM - LLM: with common random numbers both strategies face the same jobs and
the same luck in each seed, so the paired interval is much tighter than the
two separate ones. Each seed's result depends only on its seed, so the table
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

MEASURES = ("net_value", "success_rate", "roi", "share_of_oracle")
# Two-sided 95 % Student-t quantiles by degrees of freedom; beyond 30 the normal 1.96 is close enough.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def mean_ci(values) -> dict:
    """Mean and half-width of the 95 % confidence interval of the mean."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        return {"mean": float(x.mean()) if n else None, "ci95": None, "n": n}
    return {"mean": float(x.mean()), "ci95": float(t95(n - 1) * x.std(ddof=1) / math.sqrt(n)), "n": n}


def t95(df: int) -> float:
    """Two-sided 95 % Student-t quantile for `df` degrees of freedom."""
    return _T95[df - 1] if df <= len(_T95) else 1.96


def verdict(diff: dict, what: str, per: str) -> str:
    """A sentence chosen by the numbers: significant only when the interval excludes zero."""
    mean, half = diff["mean"], diff["ci95"]
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


def summarise(per_seed: list[dict], opportunities: int) -> dict:
    """per_seed: one metrics["strategies"] dict per seed, in seed order."""
    # ROI or share of oracle is None (undefined) when its denominator is zero: such seeds are left out.
    table = {s: {m: mean_ci([run[s][m] for run in per_seed if run[s][m] is not None]) for m in MEASURES}
             for s in STRATEGIES}
    scale = 100 / opportunities
    paired = {}
    for other in ("greedy", "llm"):
        diffs = [(run["trm"]["net_value"] - run[other]["net_value"]) * scale for run in per_seed]
        paired[f"trm_minus_{other}"] = mean_ci(diffs)
    sentences = [verdict(paired["trm_minus_greedy"], "TRM vs greedy", "net value per 100 opportunities"),
                 verdict(paired["trm_minus_llm"], "TRM vs simulated LLM", "net value per 100 opportunities")]
    return {"seeds": len(per_seed), "strategies": table, "paired_net_value_per_100": paired,
            "verdicts": sentences, "per_seed_net_value": {s: [run[s]["net_value"] for run in per_seed]
                                                          for s in STRATEGIES}}


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
    summary = summarise(results, cfg.simulation.opportunities)
    summary["seed_list"] = list(seeds)
    return summary
