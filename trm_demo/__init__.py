"""trm-demo: a Tiny Recursive Model, in pure NumPy, making funnel decisions you can audit."""

import os

# The TRM's matrices are tiny (batch x 32): a BLAS thread pool spends more time
# waking threads than multiplying (measured 3.3 ms vs 27 ms per training step on
# 2 busy cores). Must be set before NumPy is first imported; a user's own
# setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of returning it to the OS after every op.

    Each NumPy op here allocates ~100 KB temporaries; by default glibc hands
    them back to the OS and page-faults them in again on the next op. Keeping
    them measured 1.17x faster training and 1.47x faster inference
    (docs/BENCHMARKS.md). Same effect as MALLOC_MMAP_THRESHOLD_ /
    MALLOC_TRIM_THRESHOLD_, which must be set before Python starts; silently
    skipped where the C library is not glibc.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 * 2**20)    # glibc's ceiling for this knob on 64-bit
    mallopt(m_trim_threshold, 256 * 2**20)


_keep_freed_memory()

__version__ = "0.1.0"
