"""Multi-seed evaluation: how sure are we? (`python main.py --seeds N`)

One run of 200 opportunities is a small sample. This reruns the whole pipeline
(fine-tuning included) for seeds s, s+1, ..., s+N-1 in parallel processes and
reports, per strategy, the mean and a 95 % confidence interval (Student's t)
of each measure, plus the *paired* per-seed differences of expected net value
(the cascade minus each rival: keyword, llm_shortlist, router_topk, LLM, TRM;
TRM - logistic, TRM - greedy; with the reading TRM's tier on, cascade3 - cascade,
trm_reader - keyword and trm_reader - bow_reader) and each control's
counterfactual: with common random numbers both sides face the same jobs in each seed, so a paired interval
is much tighter than the two separate ones. Each seed's result depends only on
its seed, so the table is the same whatever the number of processes.

The workers are a concurrent.futures.ProcessPoolExecutor, not a
multiprocessing.Pool: when a worker dies (killed, or by the out-of-memory
killer) a Pool quietly starts another and waits forever for the lost seed;
the executor marks itself broken and fails every waiting seed, and the run ends
with one line naming the worker and its signal (`WorkerDied`, exit 1).

A run stopped by Ctrl-C or SIGTERM ends its workers before it exits, so none
is left running: the workers ignore Ctrl-C (the terminal sends it to them too;
the parent decides) and die at once on the SIGTERM sent to them on the way
out. The executor has no public way to end a worker in the middle of its task
(`shutdown(cancel_futures=True)` cancels only seeds not started, and then waits
for the running ones: minutes), so `_end_workers` terminates the processes
listed in its private `_processes` (pid -> multiprocessing.Process; the same
attribute in Python 3.9 to 3.13; `terminate_workers()` is public only from
3.14; tested in test_seed_workers.py, so a Python that renames it fails a test,
not a user's Ctrl-C).
"""

from __future__ import annotations

import math
import os
import signal
from typing import Callable

import numpy as np

from trm_demo.config import Config
from trm_demo.errors import WorkerDied
from trm_demo.stop import stops_held, worker_signals
from trm_demo.strategies import KEYS

MEASURES = ("expected_net_value", "net_value", "share_of_oracle_expected", "llm_reads", "llm_cost")
PAIRS = (("cascade", "keyword"), ("cascade", "llm_shortlist"), ("cascade", "router_topk"), ("cascade", "llm"),
         ("cascade", "trm"), ("trm", "llm"), ("trm", "logistic"), ("trm", "greedy"),
         ("cascade3", "cascade"), ("trm_reader", "keyword"),
         ("trm_reader", "bow_reader"))   # the last three where the runs recorded them
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


def summarise(per_seed: list[dict]) -> dict:
    """per_seed: one {"strategies", "counterfactuals"} dict per seed, in seed order. Expected net value throughout.
    Numbers only: the sentences saying what the paired differences mean are report.formats.verdicts."""
    runs = [seed["strategies"] for seed in per_seed]
    keys = [s for s in KEYS if s in runs[0]]   # every seed ran the same config: the same keys
    # A share of oracle is None (undefined) when the oracle made nothing: such seeds are left out.
    table = {s: {m: mean_ci([run[s][m] for run in runs if run[s][m] is not None]) for m in MEASURES}
             for s in keys}
    paired = {f"{a}-{b}": mean_ci([run[a]["expected_net_value"] - run[b]["expected_net_value"] for run in runs])
              for a, b in PAIRS if a in runs[0] and b in runs[0]}
    controls = {name: mean_ci([seed["counterfactuals"][name]["expected_net_value_delta"] for seed in per_seed])
                for name in ("thermostat", "sentinel")}
    return {"seeds": len(per_seed), "strategies": table, "paired": paired, "counterfactuals": controls,
            "per_seed_expected_net_value": {s: [run[s]["expected_net_value"] for run in runs] for s in keys}}


def evaluate_seeds(cfg: Config, seeds: list[int], run_one: Callable[[Config], dict], workers: int | None = None,
                   on_done: Callable[[int], None] | None = None) -> dict:
    """Run `run_one` (config -> {"strategies", "counterfactuals"[, "break_even"]}) for every seed, in parallel;
    summarise in seed order (each seed's break-even map is handed up as it is: landscape.py averages it)."""
    configs = [cfg.replace(**{"simulation.seed": s}) for s in seeds]
    workers = workers or min(len(seeds), os.cpu_count() or 1)
    results: list[dict] = []
    if workers == 1:
        for c in configs:
            results.append(run_one(c))
            if on_done:
                on_done(len(results))
    else:
        results = _in_worker_processes(run_one, configs, workers, on_done)
    summary = summarise(results)
    summary["seed_list"] = list(seeds)
    if all("break_even" in r for r in results):   # each seed's map, for landscape.break_even_map
        summary["break_even"] = [r["break_even"] for r in results]
    return summary


def _in_worker_processes(run_one: Callable[[Config], dict], configs: list[Config], workers: int,
                         on_done: Callable[[int], None] | None) -> list[dict]:
    """Every config in a worker process; results in seed order, whatever finishes first."""
    # Here, not at the top: only --seeds starts workers (a run without it loads no multiprocessing: ~35 ms).
    from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
    executor = ProcessPoolExecutor(workers, initializer=worker_signals)
    processes: dict = {}
    finished = False
    try:
        with stops_held():   # a stop inside submit() can leave the executor's queue locked: its shutdown would hang
            futures = [executor.submit(run_one, c) for c in configs]
        processes = dict(getattr(executor, "_processes", None) or {})   # all started by now (see _end_workers)
        results = []
        for future in futures:
            try:
                results.append(future.result())
            except BrokenProcessPool:
                raise WorkerDied(_death(processes, len(results), len(configs))) from None
            if on_done:
                on_done(len(results))
        finished = True
        return results
    finally:
        if finished:
            executor.shutdown(wait=True)
        else:   # stopped, failed or a worker died: no worker may outlive the run, nor keep it waiting
            _end_workers(executor, processes)


def _death(processes: dict, done: int, total: int) -> str:
    """Which worker died and how: its exit code, or the signal that killed it."""
    for process in processes.values():
        process.join(timeout=1)   # the executor ends the other workers with SIGTERM once one is lost
    dead = [(pid, p.exitcode) for pid, p in processes.items() if p.exitcode not in (None, 0)]
    # those the executor ended are not news: name the others, if any
    dead = [d for d in dead if d[1] != -signal.SIGTERM] or dead
    how = ", ".join(f"pid {pid} {_exit_reason(code)}" for pid, code in dead) or "a worker process ended"
    return (f"--seeds: a worker process died before finishing its seed ({how}); {done} of {total} seeds were "
            "done and no output was written; rerun (if it was the out-of-memory killer, lower --seeds)")


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _end_workers(executor, processes: dict) -> None:
    """Terminate every worker now and reap it (see the module docstring for why `_processes`)."""
    known = {**processes, **(getattr(executor, "_processes", None) or {})}
    for process in known.values():
        if process.exitcode is None:
            process.terminate()   # SIGTERM: a worker dies at once (stop.worker_signals)
    for process in known.values():
        process.join(timeout=5)
        if process.exitcode is None:
            process.kill()
            process.join(timeout=5)
    executor.shutdown(wait=True, cancel_futures=True)   # the manager thread sees the workers gone and ends
