"""The pinned numerics (process.py): the test process runs the reference kernel where the CPU allows,
and a run records whether it was reference (one BLAS thread, OpenBLAS's Haswell kernel, NumPy's AVX2 paths)."""

import subprocess
import sys

from test_cli import REPO_ROOT, subprocess_env
from trm_demo.process import numerics


def test_the_test_process_runs_the_reference_numerics_where_the_cpu_allows():
    info = numerics()
    assert info["blas"], "NumPy's BLAS was not found"
    if info["reference"]:
        assert info["blas"][0].endswith("Haswell") and "X86_V4" not in info["numpy_simd"]


def test_reference_needs_one_blas_thread():
    """process.numerics records the BLAS thread count; 2 threads round otherwise, so they are not reference."""
    probe = "from trm_demo.process import prepare_process, numerics; prepare_process(); print(numerics())"
    seen = {}
    for threads in ("1", "2"):
        env = {**subprocess_env(), "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
        done = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=60, check=True)
        seen[threads] = eval(done.stdout)   # a dict literal of str, list, bool
    assert seen["1"]["blas_threads"] == [1] and seen["2"]["blas_threads"] == [2]
    assert seen["2"]["reference"] is False   # whatever the kernel: the same kernel with 1 thread may be reference
