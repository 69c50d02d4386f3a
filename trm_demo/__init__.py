"""trm-demo: a Tiny Recursive Model, in pure NumPy, making funnel decisions you can audit.

Importing the package changes nothing in the process; entry points call
`trm_demo.process.prepare_process()` first (BLAS threads and kernel, allocator).
"""

__version__ = "0.1.0"
