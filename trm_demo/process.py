"""Process set-up for every entry point (CLI, tests, bench): numerics pinned before NumPy loads.

Why pin the numerics: fine-tuning is chaotic. A relative change of 1e-14 in the
starting weights grows to 5e-4 after one epoch (Adam divides each gradient by
its own running size, so rounding noise in near-zero gradients becomes a full
step), and the TRM's decisions then differ. OpenBLAS picks its matrix kernel
for the CPU it runs on, and each kernel rounds float32 sums in its own order:
on one Xeon the default run's TRM net value was $9,019.97 with the native
AVX-512 kernel, $8,819.97 with the Haswell kernel and $8,519.97 with the
Sandybridge one (float64 moves the chaos, not removes it: measured). So every
entry point asks for the same kernel, OpenBLAS's Haswell (AVX2 + FMA), one BLAS
thread (threads split the sums too), and NumPy's AVX2 code paths, on every
x86-64 CPU that has them; that makes a run's bytes the same across those
machines. A run is "reference" in its metadata only with all three. Elsewhere (ARM, x86 before 2013)
nothing is pinned and the TRM's figures may differ; `numerics()` records which
case a run was in. A value the user already set always wins.

Must run before NumPy is imported: OpenBLAS reads these variables once, at load.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
from pathlib import Path

REFERENCE_BLAS_KERNEL = "Haswell"
# NumPy dispatch targets above AVX2, by the names NumPy 2.4 uses (the pinned version);
# an older NumPy refuses names it does not know, so they are only set for 2.4.
_NUMPY_ABOVE_AVX2 = "X86_V4 AVX512_ICL AVX512_SPR"


def prepare_process() -> None:
    """Pin BLAS threads and kernel, and keep freed memory: call first thing in every entry point."""
    # The TRM's matrices are tiny (batch x 32): a BLAS thread pool spends more time
    # waking threads than multiplying (a busy neighbour made 2 threads 10x slower).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if _has_avx2_fma():
        os.environ.setdefault("OPENBLAS_CORETYPE", REFERENCE_BLAS_KERNEL)
        if _numpy_version().startswith("2.4."):
            os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", _NUMPY_ABOVE_AVX2)
    _keep_freed_memory()


def numerics() -> dict:
    """What decided this run's rounding: the BLAS kernel and its thread count, NumPy's SIMD level (run metadata)."""
    import numpy as np
    from threadpoolctl import threadpool_info

    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    blas = [f"{p.get('internal_api')} {p.get('version')} {p.get('architecture') or ''}".strip() for p in pools]
    # Threads split a matrix product's sums differently: 2 threads round otherwise than 1 (measured:
    # OPENBLAS_NUM_THREADS=2 changed the default run's TRM figures), so the reference needs exactly 1.
    threads = [p.get("num_threads") for p in pools]
    features = np._core._multiarray_umath.__cpu_features__
    enabled = [t for t in np._core._multiarray_umath.__cpu_dispatch__ if features.get(t)]
    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").split()
    simd = [t for t in enabled if t not in disabled]
    kernel = blas[0].split()[-1] if blas else None
    return {"blas": blas, "blas_threads": threads, "numpy_simd": simd, "machine": platform.machine(),
            "reference": kernel == REFERENCE_BLAS_KERNEL and threads == [1]
            and not any(t in simd for t in _NUMPY_ABOVE_AVX2.split())}


def _has_avx2_fma() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags


def _numpy_version() -> str:
    """The installed NumPy's version, read from its numpy/version.py: importing NumPy here would load it before
    its settings, and importlib.metadata costs ~60 ms of start-up (it loads email and socket); that is the
    fallback for a NumPy whose file does not say."""
    from importlib.util import find_spec
    spec = find_spec("numpy")   # finds the package without importing it
    try:
        text = Path(spec.origin).with_name("version.py").read_text(encoding="utf-8")
        return re.search(r'^version\s*(?::\s*str\s*)?=\s*["\']([^"\']+)["\']', text, re.M).group(1)
    except (AttributeError, TypeError, OSError):
        from importlib.metadata import PackageNotFoundError, version
        try:
            return version("numpy")
        except PackageNotFoundError:
            return ""


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of returning it to the OS after every op.

    Each NumPy op here allocates ~100 KB temporaries; by default glibc hands
    them back to the OS and page-faults them in again on the next op. Keeping
    them measured 1.17x faster training and 1.47x faster inference
    (docs/BENCHMARKS.md). Skipped where the C library is not glibc.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 * 2**20)    # glibc's ceiling for this knob on 64-bit
    mallopt(m_trim_threshold, 256 * 2**20)
