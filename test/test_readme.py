"""The README's sample outputs are real: rerunning their commands reproduces them.

Byte for byte wherever the reference numerics run (any x86-64 CPU with AVX2,
see trm_demo/process.py); on other CPUs the TRM's fine-tuning rounds
differently and may make other decisions, so there only the rows that no
training touches (greedy, LLM, oracle) are compared.
"""

import pytest

from trm_demo.report import docs
from trm_demo.process import numerics

UNTRAINED_ROWS = ("Greedy rule of thumb", "LLM reads everyone", "Oracle (upper bound)")


@pytest.fixture(scope="module")
def readme_and_fresh_run():
    text = docs.README.read_text(encoding="utf-8")
    fresh = text
    for name, args in docs.SAMPLES.items():
        fresh = docs.rewrite(fresh, name, args)
    return text, fresh


def table_rows(text: str, label: str) -> list[list[str]]:
    """Every table row of `text` that starts with `label`, as stripped cells (column widths vary)."""
    return [[cell.strip() for cell in line.split("│")[1:-1]]
            for line in text.splitlines() if line.startswith(f"│ {label}")]


def test_readme_samples_match_a_fresh_run_of_their_commands(readme_and_fresh_run):
    if not numerics()["reference"]:
        pytest.skip("this process does not run the reference numerics (OpenBLAS Haswell kernel, AVX2): the CPU "
                    "lacks AVX2, or OPENBLAS_CORETYPE / NPY_DISABLE_CPU_FEATURES were set by hand; "
                    "the untrained rows are still compared below")
    text, fresh = readme_and_fresh_run
    assert fresh == text, "a README sample is stale: run python -m trm_demo.report.docs"


def test_readme_rows_no_training_touches_match_on_any_cpu(readme_and_fresh_run):
    text, fresh = readme_and_fresh_run
    for label in UNTRAINED_ROWS:
        assert table_rows(text, label), f"no '{label}' row in the README samples"
        assert table_rows(fresh, label) == table_rows(text, label), f"README '{label}' rows are stale"


def test_readme_gives_the_test_command_that_ci_runs():
    ci = (docs.REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q" in docs.README.read_text(encoding="utf-8")
    assert "python -m pytest -q" in ci
