"""How every figure is measured: medians of repeats with their spread, fresh processes, and the machine.

The machine may be shared, so one timing says little: each figure is the median of repeats, kept with the
fastest and slowest ({median, low, high, repeats}), so that a noisy figure looks noisy on the page.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

REPO_ROOT = Path(__file__).resolve().parent.parent
# The commands a user types are timed with Python's default byte-code: written once to __pycache__ (git-ignored)
# and read by every later run. A session that sets PYTHONDONTWRITEBYTECODE=1 (as this project's sandbox does)
# would otherwise make every timed command compile trm-demo's sources again; end_to_end measures that case too.
AS_A_USER = {"PYTHONDONTWRITEBYTECODE": ""}   # empty: not set, for Python


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "low": min(values), "high": max(values), "repeats": len(values)}


def per_second(seconds: dict, work: float) -> dict:
    """work per second from a spread of seconds: the fastest time gives the highest rate."""
    return {"median": work / seconds["median"], "low": work / seconds["high"], "high": work / seconds["low"],
            "repeats": seconds["repeats"]}


def time_calls(fn, repeats: int, calls_per_repeat: int = 1, warmup: int = 1, per: int = 1) -> dict:
    """Seconds per call of fn() / per, over repeats of `calls_per_repeat` back-to-back calls; "cpu": the same in
    this process's CPU time, which on a shared machine leaves out the time spent waiting for a core."""
    for _ in range(warmup):
        fn()
    samples, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(calls_per_repeat):
            fn()
        samples.append((time.perf_counter() - started) / calls_per_repeat / per)
        cpu.append((time.process_time() - started_cpu) / calls_per_repeat / per)
    return {**spread(samples), "cpu": spread(cpu)}


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


def in_processes(fn, jobs: list, workers: int = 2) -> list:
    """fn(job) for every job, in `workers` spawned processes with one BLAS thread each: forking after OpenBLAS
    started its threads can hang, and a worker's thread would compete with the other worker for a core.
    (A spawned worker imports bench, whose __init__ runs the demo's process set-up.)"""
    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            return pool.map(fn, jobs, chunksize=1)
    finally:
        if saved is None:
            os.environ.pop("OPENBLAS_NUM_THREADS", None)
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved


# --- the machine ---

def blas_threads() -> int | None:
    return _blas().get("num_threads")


def _blas() -> dict:
    return next((pool for pool in threadpool_info() if pool["user_api"] == "blas"), {})


def machine() -> dict:
    """What the figures were measured on: platform facts, the BLAS as threadpoolctl reports it, the code."""
    blas = _blas()
    memory = Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0] if Path("/proc/meminfo").exists() \
        else None
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    model = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    return {"cpu_model": model[0] if model else platform.processor() or "unknown", "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)), "memory_gib": memory and round(int(memory) / 2**20, 1),
            "python": platform.python_version(), "numpy": np.__version__,
            "blas": {"name": blas.get("prefix", "unknown"), "version": blas.get("version")},
            "openblas_runtime": {"kernel": blas.get("architecture"), "threads": blas.get("num_threads")} if blas else None,
            "blas_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))},
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "code": code_version()}


def code_version() -> dict:
    """The commit measured, the product files that differed from it (read-only git calls) and their size and
    modification time, to tell whether one changed during the run."""
    def git(*args):
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        return done.stdout.rstrip() if done.returncode == 0 else None
    files = [line[3:] for line in (git("status", "--porcelain", "--", "trm_demo", "main.py", "config") or "").splitlines()]
    stamps = {f: (REPO_ROOT / f).stat() for f in files if (REPO_ROOT / f).exists()}
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_changes": files,
            "fingerprints": {f: f"{st.st_size}:{st.st_mtime_ns}" for f, st in stamps.items()}}
