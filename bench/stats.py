"""Timing and interval helpers: every figure is a median of repeats with its spread.

The machine is shared, so a single timing says little: we repeat, report the
median, and show the min-max range so a noisy figure looks noisy.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Timing:
    """Seconds per call: median of `repeats` repeats, with the fastest and slowest."""
    median: float
    low: float
    high: float
    repeats: int

    def scaled(self, factor: float) -> "Timing":
        return Timing(self.median * factor, self.low * factor, self.high * factor, self.repeats)

    def rate(self, work: float) -> "Timing":
        """work per second, e.g. samples/s; fastest time gives the highest rate."""
        return Timing(work / self.median, work / self.high, work / self.low, self.repeats)

    def to_dict(self) -> dict:
        return asdict(self)


def from_samples(seconds: list[float]) -> Timing:
    return Timing(statistics.median(seconds), min(seconds), max(seconds), len(seconds))


def time_calls(fn: Callable[[], object], repeats: int, calls_per_repeat: int = 1, warmup: int = 1) -> Timing:
    """Seconds per call of fn(), median over repeats of `calls_per_repeat` back-to-back calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls_per_repeat):
            fn()
        samples.append((time.perf_counter() - started) / calls_per_repeat)
    return from_samples(samples)


def run_python(args: list[str], env: dict | None = None, python: str = sys.executable, cwd=REPO_ROOT,
               timeout: float | None = None) -> subprocess.CompletedProcess:
    """A fresh interpreter that imports bench and trm_demo from this checkout; `env` is added to os.environ."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    return subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def run_json(args: list[str], env: dict | None = None, python: str = sys.executable) -> dict:
    """run_python, whose stdout is one JSON document; a failed run raises with the end of its stderr."""
    done = run_python(args, env, python)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)
