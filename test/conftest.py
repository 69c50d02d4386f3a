import os
import sys
from pathlib import Path

# Single-threaded BLAS before NumPy loads (see trm_demo/__init__.py).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Let `pytest` run from a fresh clone without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
