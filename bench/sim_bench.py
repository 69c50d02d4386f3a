"""Simulation throughput (opportunities/s) and peak memory, each run in a fresh process; the default run's wall time.

Every run is `trm_demo.funnel.simulation.run_funnel` on the default config with the shipped pretrained
checkpoint at the step cap its own run validated (no fine-tuning: what `python main.py --train-epochs 0` runs at),
the logistic baseline and telemetry on (`telemetry.call_log` to a
temporary file, deleted afterwards). Peak memory is the process's maxrss, so each size gets its own process.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.measure import AS_A_USER, REPO_ROOT, run_json, run_python, spread

LARGE_CHUNK = 1000      # the second chunk size of each row, and the only one at 1M (chunk 10 takes too long)


def worker(argv: list[str]) -> int:
    """python -m bench.sim_bench OPPORTUNITIES CHUNK [--no-telemetry]: one run, its figures as JSON on stdout."""
    from trm_demo.config import load_config
    from trm_demo.funnel.pipeline import fit_baseline, starting_model, step_cap
    from trm_demo.funnel.simulation import run_funnel
    from trm_demo.funnel.telemetry import call_log
    opportunities, chunk = int(argv[0]), int(argv[1])
    cfg = load_config(None, {"simulation.opportunities": opportunities, "simulation.chunk_size": chunk})
    model, baseline = starting_model(cfg), fit_baseline(cfg)
    rss_before = _maxrss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        telemetry = None if "--no-telemetry" in argv else Path(tmp) / "trm_calls.json"
        started, cpu_started = time.perf_counter(), time.process_time()
        with call_log(telemetry) as calls:
            run_funnel(cfg, model, baseline, calls, step_cap(cfg, model.decisions))   # as a run without fine-tuning
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        telemetry_mb = telemetry.stat().st_size / 1e6 if telemetry else 0.0
    print(json.dumps({"opportunities_per_second": opportunities / seconds,
                      "opportunities_per_cpu_second": opportunities / cpu_seconds, "peak_rss_mb": _maxrss_mb(),
                      "rss_before_run_mb": rss_before, "telemetry_mb": telemetry_mb}))
    return 0


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


# --- the orchestrating side ---

def measure(opportunities: int, chunk: int, repeats: int, extra: list[str] = (), env_changes=None) -> dict:
    runs = [run_json(["-m", "bench.sim_bench", str(opportunities), str(chunk), *extra], env_changes)
            for _ in range(repeats)]
    return {"opportunities": opportunities, "chunk": chunk, "repeats": repeats,
            "opportunities_per_second": spread([r["opportunities_per_second"] for r in runs]),
            # the process's own CPU time: what the goal is judged on when the machine is shared
            "opportunities_per_cpu_second": spread([r["opportunities_per_cpu_second"] for r in runs]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "rss_before_run_mb": float(np.median([r["rss_before_run_mb"] for r in runs])),
            "telemetry_mb": runs[0]["telemetry_mb"]}


WHAT_IFS = {"OPENBLAS_NUM_THREADS=2": ([], {"OPENBLAS_NUM_THREADS": "2"}), "telemetry off": (["--no-telemetry"], {})}


def run(sizes: list[int], config_chunk: int, repeats: int, what_if_size: int) -> dict:
    """Throughput and memory per (size, chunk): the config's chunk and LARGE_CHUNK, sizes >= 1M at LARGE_CHUNK only;
    the what-ifs at what_if_size (0: none)."""
    rows = [measure(n, chunk, repeats if n <= 10_000 else 1)
            for n in sizes for chunk in ([LARGE_CHUNK] if n >= 1_000_000 else [config_chunk, LARGE_CHUNK])]
    what_ifs = {}
    if what_if_size:
        what_ifs["as is"] = measure(what_if_size, config_chunk, repeats)
        for name, (extra, env) in WHAT_IFS.items():
            what_ifs[name] = measure(what_if_size, config_chunk, repeats, extra, env)
            what_ifs[name]["speedup"] = (what_ifs[name]["opportunities_per_second"]["median"]
                                         / what_ifs["as is"]["opportunities_per_second"]["median"])
    return {"budget_note": "default config, shipped checkpoint at its validated step cap (no fine-tuning), logistic baseline",
            "rows": rows, "what_ifs": what_ifs, "targets": {"opportunities_per_second": 10_000, "peak_mb_at_1m": 150, "seconds_at_1m": 120}}


def end_to_end(repeats: int) -> dict:
    """`python main.py --quiet` in a temporary working directory with every output there (nothing in the repository
    is touched): a first run (no memo of the fine-tuned weights yet) and a rerun of the same inputs in the same
    directory (the memo's), wall and CPU (user + sys of the child) each, with byte-code as a user's Python keeps it
    (measure.AS_A_USER); and the rerun once more without byte-code (PYTHONDONTWRITEBYTECODE=1: every module
    compiled from source)."""
    outputs = ("--export-json", "--export-training-log", "--export-report", "--export-html", "--telemetry")
    kinds = {"first": AS_A_USER, "rerun": AS_A_USER, "rerun_no_bytecode": {"PYTHONDONTWRITEBYTECODE": "1"}}
    figures = {kind: {"wall": [], "cpu": []} for kind in kinds}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            for kind, env in kinds.items():
                before, started = _children_cpu(), time.perf_counter()
                done = run_python([str(REPO_ROOT / "main.py"), "--quiet",
                                   *(f"{flag}={tmp}/{flag[2:]}.out" for flag in outputs)], env, cwd=tmp, timeout=600)
                figures[kind]["wall"].append(time.perf_counter() - started)
                figures[kind]["cpu"].append(_children_cpu() - before)
                if done.returncode != 0:
                    raise RuntimeError(f"main.py failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return {"command": "python main.py --quiet (outputs redirected to a temp dir)",
            "seconds": spread(figures["first"]["wall"]),
            **{f"{kind}_{clock}_seconds": spread(values) for kind, clocks in figures.items()
               for clock, values in clocks.items()},
            "targets": {"first_seconds": 1.2, "rerun_seconds": 0.8}}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1:]))
