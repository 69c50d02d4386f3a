"""What the figures were measured on: platform facts, and the BLAS as threadpoolctl reports it."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def describe() -> dict:
    blas = next((pool for pool in threadpool_info() if pool["user_api"] == "blas"), {})
    meminfo = Path("/proc/meminfo")
    memory = (int(meminfo.read_text().split("MemTotal:")[1].split()[0]) / 2**20) if meminfo.exists() else None
    cpuinfo = Path("/proc/cpuinfo")
    model = [line.split(":", 1)[1].strip() for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
             if line.startswith("model name")]
    return {"cpu_model": model[0] if model else platform.processor() or "unknown", "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)), "memory_gib": memory and round(memory, 1),
            "python": platform.python_version(), "numpy": np.__version__,
            "blas": {"name": blas.get("prefix", "unknown"),
                     "version": blas.get("version")},
            "openblas_runtime": {"kernel": blas.get("architecture"), "threads": blas.get("num_threads")} if blas else None,
            "blas_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))},
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "code": code_version()}


def code_version() -> dict:
    """The commit measured, the product files that differed from it (read-only git calls) and their size and
    modification time, to tell whether one changed during the run."""
    root = Path(__file__).resolve().parent.parent

    def git(*args):
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        return done.stdout.rstrip() if done.returncode == 0 else None
    files = [line[3:] for line in (git("status", "--porcelain", "--", "trm_demo", "main.py", "config") or "").splitlines()]
    stamp = {f: (root / f).stat() for f in files if (root / f).exists()}
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_changes": files,
            "fingerprints": {f: f"{st.st_size}:{st.st_mtime_ns}" for f, st in stamp.items()}}


def blas_threads() -> int | None:
    return next((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), None)


def limited_blas_threads(n: int):
    """Run the body with n BLAS threads. Lower only: raising the count at run time measured 5-10x slower per
    small matmul than starting with it, so more threads need a fresh process."""
    return threadpool_limits(limits=n, user_api="blas")
