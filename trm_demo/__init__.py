"""trm-demo: a Tiny Recursive Model, in pure NumPy, making funnel decisions you can audit."""

import os

# The TRM's matrices are tiny (batch x 32): a BLAS thread pool spends more time
# waking threads than multiplying (measured 3.3 ms vs 27 ms per training step on
# 2 busy cores). Must be set before NumPy is first imported; a user's own
# setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
