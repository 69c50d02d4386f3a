"""What the figures were measured on: CPU, cores, Python, NumPy and its BLAS.

threadpoolctl is not a dependency, so the BLAS facts come from
`np.show_config(mode="dicts")` (how numpy was built) and from the OpenBLAS
library numpy ships, asked directly through ctypes (which kernel it runs and
with how many threads). The same handle lets a benchmark change the number of
BLAS threads at run time.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import platform
import subprocess
from pathlib import Path

import numpy as np


def describe() -> dict:
    blas = _build_blas()
    runtime = openblas_runtime()
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "openblas_runtime": runtime,
        "blas_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))},
        "load_average_at_start": _load_average(),
        "code": code_version(),
    }


def code_version() -> dict:
    """The commit measured, and whether the engine's files differed from it (read-only git calls)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args):
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.rstrip() if done.returncode == 0 else None

    changed = git("status", "--porcelain", "--", "trm_demo", "main.py", "config")
    commit = git("rev-parse", "--short", "HEAD")
    files = [] if changed is None else [line[3:] for line in changed.splitlines()]
    return {"commit": commit.strip() if commit else None, "uncommitted_changes": files,
            "fingerprints": {f: _fingerprint(root / f) for f in files}}


def _fingerprint(path: Path) -> str | None:
    """Size and modification time: enough to tell that a file changed during the run."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _build_blas() -> dict:
    """numpy's own record of the BLAS it was built against."""
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
    except (TypeError, KeyError):   # numpy < 1.26 has no mode="dicts"
        return {"name": "unknown (numpy has no show_config(mode='dicts'))"}
    return {"name": blas.get("name"), "version": blas.get("version"),
            "configuration": " ".join(str(blas.get("openblas configuration", "")).split()) or None}


# --- the OpenBLAS library inside numpy, through ctypes ---

def _openblas():
    """(library, symbol suffix) or (None, None) when numpy's BLAS is not a bundled OpenBLAS."""
    libs_dir = Path(np.__file__).parent.parent / "numpy.libs"
    for path in sorted(glob.glob(str(libs_dir / "lib*openblas*.so*"))):
        lib = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas_", "64_"), ("openblas_", "64_"), ("openblas_", "")):
            if hasattr(lib, f"{prefix}get_num_threads{suffix}"):
                return lib, (prefix, suffix)
    return None, None


_LIB, _NAMING = _openblas()


def _symbol(name: str):
    prefix, suffix = _NAMING
    return getattr(_LIB, f"{prefix}{name}{suffix}")


def openblas_runtime() -> dict | None:
    if _LIB is None:
        return None
    corename, config = _symbol("get_corename"), _symbol("get_config")
    corename.restype = config.restype = ctypes.c_char_p
    return {"kernel": corename().decode(), "threads": int(_symbol("get_num_threads")()),
            "config": " ".join(config().decode().split())}


def blas_threads() -> int | None:
    return int(_symbol("get_num_threads")()) if _LIB is not None else None


@contextlib.contextmanager
def limited_blas_threads(n: int):
    """Run the body with n OpenBLAS threads (no-op if the library cannot be reached).

    Lowering the count is safe; raising it above what the process started with
    (or restoring it after lowering) measured 5-10x slower per small matmul than
    starting with that many threads: for more threads, start a fresh process."""
    before = blas_threads()
    if before is None:
        yield False
        return
    _symbol("set_num_threads")(ctypes.c_int(n))
    try:
        yield True
    finally:
        _symbol("set_num_threads")(ctypes.c_int(before))
