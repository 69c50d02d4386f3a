"""The README's sample outputs are real: rerunning their commands reproduces them.

Byte for byte wherever the reference numerics run (any x86-64 CPU with AVX2,
see trm_demo/process.py); on other CPUs the TRM's fine-tuning rounds
differently and may make other decisions, so there only the rows that no
training touches (greedy, oracle) are compared.

Each sample is its own test and its command runs once (the two tests share the
run), so a stale sample is named, and on a CPU without the reference numerics
the puzzle sample, which has no untrained rows, is not run at all. The commands
share one memo of the fine-tuning, as one user's commands do: the knob sample
reuses the default sample's (same checkpoint, seed and training knobs), and
its output must still be what the README shows.
"""

from functools import cache

import pytest

from trm_demo import memo
from trm_demo.report import docs
from trm_demo.process import numerics

UNTRAINED_ROWS = ("Greedy rule of thumb", "Oracle (upper bound)")   # the LLM falls back to the TRM: trained
FUNNEL_SAMPLES = [name for name, args in docs.SAMPLES.items() if args[0] != "puzzle"]


@pytest.fixture(scope="module")
def readme_memo(tmp_path_factory):
    return tmp_path_factory.mktemp("memo") / ".trm_demo_cache"


@pytest.fixture(autouse=True)
def own_fine_tuning_memo(readme_memo, monkeypatch):
    """Overrides conftest's fixture of the same name: one memo for the module, not one per test."""
    monkeypatch.setattr(memo, "CACHE_DIR", readme_memo)


@cache
def readme() -> str:
    return docs.README.read_text(encoding="utf-8")


@cache
def readme_with_a_fresh_run_of(name: str) -> str:
    """The README with sample `name` replaced by what its command prints today."""
    return docs.rewrite(readme(), name, docs.SAMPLES[name])


def sample_block(text: str, name: str) -> str:
    return text[text.index(f"<!-- sample:{name}:begin -->"):text.index(f"<!-- sample:{name}:end -->")]


def table_rows(text: str, label: str) -> list[list[str]]:
    """Every table row of `text` that starts with `label`, as stripped cells (column widths vary)."""
    return [[cell.strip() for cell in line.split("│")[1:-1]]
            for line in text.splitlines() if line.startswith(f"│ {label}")]


@pytest.mark.parametrize("name", docs.SAMPLES)
def test_readme_sample_matches_a_fresh_run_of_its_command(name):
    if not numerics()["reference"]:
        pytest.skip("this process does not run the reference numerics (OpenBLAS Haswell kernel, AVX2): the CPU "
                    "lacks AVX2, or OPENBLAS_CORETYPE / NPY_DISABLE_CPU_FEATURES were set by hand; "
                    "the untrained rows are still compared by the next test")
    assert readme_with_a_fresh_run_of(name) == readme(), \
        f"the README's '{name}' sample is stale: run python -m trm_demo.report.docs"


@pytest.mark.parametrize("name", FUNNEL_SAMPLES)
def test_readme_rows_no_training_touches_match_on_any_cpu(name):
    shown, fresh = sample_block(readme(), name), sample_block(readme_with_a_fresh_run_of(name), name)
    for label in UNTRAINED_ROWS:
        assert table_rows(shown, label), f"no '{label}' row in the README's '{name}' sample"
        assert table_rows(fresh, label) == table_rows(shown, label), f"README '{name}' sample: '{label}' rows are stale"


def test_readme_gives_the_test_command_that_ci_runs():
    ci = (docs.REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q" in docs.README.read_text(encoding="utf-8")
    assert "python -m pytest -q" in ci
