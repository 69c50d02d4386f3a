import sys
from pathlib import Path

# Let `pytest` run from a fresh clone without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trm_demo.process import prepare_process  # noqa: E402

# The demo's own numerics (BLAS kernel and threads), set before any test imports NumPy.
prepare_process()
