"""End-to-end wall time of the default run, and the multi-seed quality table.

Both run the real command line (`main.py`) in a temporary working directory
with every output redirected there, so nothing in the repository is touched.

Multi-seed: `python main.py --seed 1 --seeds N --json`, tabled here.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from bench.stats import REPO_ROOT, from_samples, run_python
from trm_demo.funnel.evaluation import mean_ci as mean_ci95


def _output_flags(directory: Path) -> list[str]:
    return ["--export-json", str(directory / "demo_metrics.json"),
            "--export-training-log", str(directory / "training.json"),
            "--export-report", str(directory / "report.md"), "--telemetry", str(directory / "trm_calls.json")]


def _main_py(args: list[str], timeout: float = 600) -> tuple[float, str]:
    """Run main.py in a fresh temp dir; returns (wall seconds, stdout)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        done = run_python([str(REPO_ROOT / "main.py"), *args, *_output_flags(Path(tmp))], cwd=tmp, timeout=timeout)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"main.py {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return seconds, done.stdout


def end_to_end(repeats: int) -> dict:
    seconds = [_main_py(["--quiet"])[0] for _ in range(repeats)]
    return {"command": "python main.py --quiet (outputs redirected to a temp dir)",
            "seconds": from_samples(seconds).to_dict()}


# --- multi-seed ---

def multi_seed(n_seeds: int) -> dict:
    """`python main.py --seed 1 --seeds N --json`: the product's own evaluation, tabled here."""
    started = time.perf_counter()
    _, stdout = _main_py(["--seed", "1", "--seeds", str(n_seeds), "--json", "--quiet"])
    evaluation = json.loads(stdout)["evaluation"]
    per_seed_net = evaluation["per_seed_expected_net_value"]
    paired = {f"trm_minus_{other}": mean_ci95([a - b for a, b in zip(per_seed_net["trm"], per_seed_net[other])])
              for other in ("greedy", "llm")}
    return {"source": f"python main.py --seed 1 --seeds {n_seeds} --json", "seeds": list(range(1, n_seeds + 1)),
            "strategies": evaluation["strategies"], "paired_net_value": paired,
            "per_seed_net_value": per_seed_net, "verdicts": evaluation.get("verdicts"),
            "wall_seconds": time.perf_counter() - started}
