"""The README's sample outputs are real: rerunning their commands reproduces them exactly."""

from trm_demo import docs


def test_readme_samples_match_a_fresh_run_of_their_commands():
    text = docs.README.read_text(encoding="utf-8")
    for name, args in docs.SAMPLES.items():
        assert docs.rewrite(text, name, args) == text, f"README sample '{name}' is stale: run python -m trm_demo.docs"


def test_readme_gives_the_test_command_that_ci_runs():
    ci = (docs.REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q" in docs.README.read_text(encoding="utf-8")
    assert "python -m pytest -q" in ci
