"""Benchmarks for trm-demo: speed, memory and quality, separate from the tests.

Run `python -m bench` (about 20 minutes on 2 cores) or `python -m bench --quick` (about 40 s).
It prints the page, writes bench/results.json and regenerates docs/BENCHMARKS.md (see bench/README.md).
"""

# First, before anything imports NumPy: the demo's own process settings (BLAS kernel and
# threads, glibc keeps freed memory), so that the figures describe the demo as it runs.
from trm_demo.process import prepare_process  # noqa: E402

prepare_process()
