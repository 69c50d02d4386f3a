"""End-to-end wall time of the default run, and the multi-seed quality table.

Both run the real command line (`main.py`) in a temporary working directory
with every output redirected there, so nothing in the repository is touched.

Multi-seed: `python main.py --seed 1 --seeds N --json` (issue 7) when main.py
has --seeds; otherwise the default pipeline for seeds 1..N through
`trm_demo.cli.main([... "--json"])` in 2 spawned processes, summarised here
with the same t intervals (bench/stats.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.stats import from_samples, mean_ci95

REPO_ROOT = Path(__file__).resolve().parent.parent
MEASURES = ("net_value", "success_rate", "roi", "share_of_oracle")
STRATEGIES = ("trm", "llm", "greedy", "oracle")


def _output_flags(directory: Path) -> list[str]:
    return ["--export-json", str(directory / "demo_metrics.json"),
            "--export-training-log", str(directory / "training.json"),
            "--export-report", str(directory / "report.md"), "--telemetry", str(directory / "trm_calls.json")]


def _main_py(args: list[str], timeout: float = 600) -> tuple[float, str]:
    """Run main.py in a fresh temp dir; returns (wall seconds, stdout)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(REPO_ROOT / "main.py"), *args, *_output_flags(Path(tmp))],
                              cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"main.py {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return seconds, done.stdout


def end_to_end(repeats: int) -> dict:
    seconds = [_main_py(["--quiet"])[0] for _ in range(repeats)]
    return {"command": "python main.py --quiet (outputs redirected to a temp dir)",
            "seconds": from_samples(seconds).to_dict()}


# --- multi-seed ---

def has_seeds_flag() -> bool:
    _, help_text = _main_py(["--help"])
    return "--seeds" in help_text


def multi_seed(n_seeds: int, workers: int = 2) -> dict:
    started = time.perf_counter()
    if has_seeds_flag():
        _, stdout = _main_py(["--seed", "1", "--seeds", str(n_seeds), "--json", "--quiet"])
        evaluation = json.loads(stdout)["evaluation"]
        per_seed_net = evaluation["per_seed_net_value"]
        source = f"python main.py --seed 1 --seeds {n_seeds} --json"
        table = evaluation["strategies"]
    else:
        per_seed = _fallback_runs(n_seeds, workers)
        per_seed_net = {s: [run[s]["net_value"] for run in per_seed] for s in STRATEGIES}
        source = f"trm_demo.cli.main per seed 1..{n_seeds} with --json ({workers} processes)"
        table = {s: {m: mean_ci95([run[s][m] for run in per_seed if run[s][m] is not None]) for m in MEASURES}
                 for s in STRATEGIES}
    paired = {f"trm_minus_{other}": mean_ci95([a - b for a, b in zip(per_seed_net["trm"], per_seed_net[other])])
              for other in ("greedy", "llm")}
    return {"source": source, "seeds": list(range(1, n_seeds + 1)), "strategies": table,
            "paired_net_value": paired, "per_seed_net_value": per_seed_net,
            "wall_seconds": time.perf_counter() - started}


def _one_seed(seed: int) -> dict:
    from trm_demo.cli import main
    with tempfile.TemporaryDirectory() as tmp:
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            code = main(["--seed", str(seed), "--json", "--quiet", *_output_flags(Path(tmp))])
    if code != 0:
        raise RuntimeError(f"seed {seed}: trm_demo.cli.main exited with {code}")
    return json.loads(captured.getvalue())["strategies"]


def _fallback_runs(n_seeds: int, workers: int) -> list[dict]:
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return pool.map(_one_seed, range(1, n_seeds + 1), chunksize=1)
