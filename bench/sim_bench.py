"""Simulation throughput (opportunities/s) and peak memory, each run in a fresh process.

Every run is `trm_demo.funnel.simulation.run_funnel` with the shipped pretrained
checkpoint (`pipeline.starting_model` on the default config) and telemetry on
(`subgraph.call_log` to a temporary file, deleted afterwards). Peak memory is
the process's maxrss (`resource.getrusage`), so each size gets its own process.

The default config, the shipped checkpoint without fine-tuning (full depth) and
the logistic baseline; the share of decisions the TRM made is reported.

Worker mode:  python -m bench.sim_bench OPPORTUNITIES CHUNK [--no-telemetry]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.stats import from_samples, run_json

LARGE_CHUNK = 1000      # the second chunk size of each row, and the only one at 1M (chunk 10 takes too long)


def worker(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sim_bench")
    p.add_argument("opportunities", type=int)
    p.add_argument("chunk", type=int)
    p.add_argument("--no-telemetry", action="store_true")
    args = p.parse_args(argv)
    from trm_demo.funnel.pipeline import fit_baseline, starting_model
    from trm_demo.config import load_config
    from trm_demo.funnel.simulation import run_funnel
    from trm_demo.funnel.telemetry import call_log
    cfg = load_config(None, {"simulation.opportunities": args.opportunities, "simulation.chunk_size": args.chunk})
    model, baseline = starting_model(cfg), fit_baseline(cfg)
    rss_before = _maxrss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        telemetry = None if args.no_telemetry else Path(tmp) / "trm_calls.json"
        started = time.perf_counter()
        with call_log(telemetry) as calls:
            result = run_funnel(cfg, model, baseline, calls, cfg.model.supervision_steps)   # full depth: no fine-tuning
        seconds = time.perf_counter() - started
        telemetry_mb = telemetry.stat().st_size / 1e6 if telemetry else 0.0
    trm = result.ledger.summary()["trm"]
    print(json.dumps({"opportunities": args.opportunities, "chunk": args.chunk, "seconds": seconds,
                      "opportunities_per_second": args.opportunities / seconds,
                      "peak_rss_mb": _maxrss_mb(), "rss_before_run_mb": rss_before,
                      "telemetry_mb": telemetry_mb,
                      "trm_decision_share": 1 - trm["fallback_decisions"] / args.opportunities}))
    return 0


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


# --- the orchestrating side ---

def measure(opportunities: int, chunk: int, repeats: int, extra: list[str] = (), env_changes=None) -> dict:
    runs = [run_json(["-m", "bench.sim_bench", str(opportunities), str(chunk), *extra], env_changes)
            for _ in range(repeats)]
    rate = from_samples([r["opportunities_per_second"] for r in runs])
    return {"opportunities": opportunities, "chunk": chunk, "repeats": repeats,
            "opportunities_per_second": rate.to_dict(),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "rss_before_run_mb": float(np.median([r["rss_before_run_mb"] for r in runs])),
            "telemetry_mb": runs[0]["telemetry_mb"], "trm_decision_share": runs[0]["trm_decision_share"],
            "variant": " ".join(extra) or None, "env": env_changes or None}


WHAT_IFS = {
    "OPENBLAS_NUM_THREADS=2": ([], {"OPENBLAS_NUM_THREADS": "2"}),
    "telemetry off": (["--no-telemetry"], {}),
}


def run(sizes: list[int], config_chunk: int, repeats: int, what_if_size: int) -> dict:
    """Throughput and memory per (size, chunk): the config's chunk and LARGE_CHUNK, sizes >= 1M at LARGE_CHUNK only."""
    rows = []
    for n in sizes:
        chunks = [LARGE_CHUNK] if n >= 1_000_000 else [config_chunk, LARGE_CHUNK]
        for chunk in chunks:
            rows.append(measure(n, chunk, repeats if n <= 10_000 else 1))
    what_ifs = {}
    if what_if_size:
        base = measure(what_if_size, config_chunk, repeats)
        what_ifs["as is"] = base
        for name, (extra, env) in WHAT_IFS.items():
            found = measure(what_if_size, config_chunk, repeats, extra, env)
            found["speedup"] = (found["opportunities_per_second"]["median"]
                                / base["opportunities_per_second"]["median"])
            what_ifs[name] = found
    return {"budget_note": "default config, shipped checkpoint at full depth (no fine-tuning), logistic baseline",
            "rows": rows, "what_ifs": what_ifs,
            "targets": {"opportunities_per_second": 10_000, "peak_mb_at_1m": 300}}


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1:]))
