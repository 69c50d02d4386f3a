"""Prove the Mermaid validator can actually fail (and pass) on real syntax.

Skipped locally when node / node_modules are missing; in CI (CI env var set)
missing tooling is a failure, because CI runs `npm ci`.
"""
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# test/ is not a package (and `test` would clash with the stdlib package), so
# make the helper importable regardless of pytest's --import-mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mermaid_check  # noqa: E402

VALID_MD = textwrap.dedent(
    """\
    # Report

    ```mermaid
    flowchart TD
        X["input x"] --> Z["latent z<br/>(n steps)"]
        Z --> Y{"answer y"}
        Y -->|"repeat T times"| Z
    ```

    A non-mermaid fence that mentions mermaid must be ignored:

    ```text
    ```mermaid
    ```

    ```mermaid
    pie showData
        title "Held-out accuracy"
        "correct" : 42
        "wrong" : 8
    ```

    ```mermaid
    xychart-beta
        title "Training loss"
        x-axis ["step 1", "step 2", "step 3"]
        y-axis "loss" 0 --> 2.5
        bar [2.1, 1.2, 0.7]
        line [2.0, 1.1, 0.5]
    ```
    """
)


def _write(tmp_path, text, name="report.md"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _validate(path):
    mermaid_check.require_node_tooling()
    return mermaid_check.validate_markdown(path)


def test_valid_blocks_pass(tmp_path):
    path = _write(tmp_path, VALID_MD)
    result = _validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["ok", "ok", "ok"]
    assert lines[0].endswith("flowchart-v2")
    assert lines[1].endswith("pie")
    assert lines[2].endswith("xychart")


@pytest.mark.parametrize(
    "broken",
    [
        "xychart-beta\n    x-axis [a, b]\n    line [1, 2,",  # unterminated array
        "flowchart TD\n    A-->",  # edge without a target
        "pie\n    \"a\" 10",  # missing colon
        "not-a-diagram\n    A --> B",  # unknown diagram type
    ],
)
def test_broken_block_fails_and_is_named(tmp_path, broken):
    text = VALID_MD + "\nmore text\n\n```mermaid\n" + broken + "\n```\n"
    path = _write(tmp_path, text)
    fence_line = text.splitlines().index("more text") + 3  # 1-based fence line
    result = _validate(path)
    assert result.returncode == 1, result.stdout + result.stderr
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1, result.stdout
    assert fails[0].startswith(f"FAIL {path.resolve()}#4 {fence_line}: ")
    assert result.stdout.count("\nok ") + result.stdout.startswith("ok ") == 3


def test_file_without_blocks_is_a_usage_error(tmp_path):
    path = _write(tmp_path, "# Report\n\nno diagrams here\n\n```python\nx = 1\n```\n")
    result = _validate(path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no ```mermaid blocks" in result.stderr


def test_missing_tooling_skips_locally_but_fails_in_ci(monkeypatch):
    monkeypatch.setattr(mermaid_check, "node_tooling_available", lambda: False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        mermaid_check.require_node_tooling()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        mermaid_check.require_node_tooling()


def test_syntax_notes_examples_parse():
    # The report generator copies these examples; keep them valid.
    notes = Path(__file__).resolve().parent / "mermaid" / "SYNTAX_NOTES.md"
    result = _validate(notes)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_command_line_prints_and_exits_as_the_shared_validator_answers(tmp_path):
    """`node test/mermaid/validate.mjs FILE...` (package.json's validate-mermaid; SYNTAX_NOTES.md) is the same check
    as the one validator process the tests share: one broken block and one file without blocks, in one call."""
    mermaid_check.require_node_tooling()
    broken = _write(tmp_path, VALID_MD + "\n```mermaid\nflowchart TD\n    A-->\n```\n")
    empty = _write(tmp_path, "# Report\n", name="empty.md")
    command = subprocess.run([shutil.which("node"), str(mermaid_check.VALIDATOR), str(broken), str(empty)],
                             cwd=mermaid_check.REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert command.returncode == 2   # a usage error outranks a failed block
    assert [line.split()[0] for line in command.stdout.splitlines()] == ["ok", "ok", "ok", "FAIL"]
    for path in (broken, empty):
        shared = mermaid_check.validate_markdown(path)
        assert shared.stdout in command.stdout and shared.stderr in command.stderr
