import sys

import pytest
from pathlib import Path

# Let `pytest` run from a fresh clone without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trm_demo.process import prepare_process  # noqa: E402

# The demo's own numerics (BLAS kernel and threads), set before any test imports NumPy.
prepare_process()


@pytest.fixture(autouse=True)
def own_fine_tuning_memo(tmp_path_factory, monkeypatch):
    """Each test's runs memoise fine-tuning in its own folder: none reuses another test's (monkeypatched) training."""
    from trm_demo import memo
    monkeypatch.setattr(memo, "CACHE_DIR", tmp_path_factory.mktemp("memo") / ".trm_demo_cache")   # not in tmp_path:
    # tests list what a run wrote there
