"""Regenerate the README's sample outputs from real runs: `python -m trm_demo.report.docs`.

Each sample sits between marker comments in README.md (`<!-- sample:NAME:begin -->`
... `<!-- sample:NAME:end -->`). This reruns each sample's command in a scratch
directory (so the repo's own outputs are untouched) and writes its terminal
summary between the markers. `--check` exits 1 if a committed sample differs.

The samples are made with the reference numerics (`process.py`: OpenBLAS's
Haswell kernel, NumPy's AVX2 paths), so any x86-64 CPU with AVX2 reproduces
them byte for byte; other CPUs reproduce the rows no training touches.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

from trm_demo.atomic import write_text

README = Path(__file__).resolve().parents[2] / "README.md"
REPO = README.parent
SAMPLES = {
    "default": ["--export-json", "demo_metrics.json", "--export-training-log", "training.json"],
    "knob": ["--config", "config/examples/cheap_llm.yaml"],
    "puzzle": ["puzzle", "eval", "--export-json", "sudoku_eval.json", "--report", "trm_reasoning_report.md"],
}


def sample_output(args: list[str]) -> str:
    """The terminal summary of the README's sample command, run in a scratch directory."""
    from trm_demo.__main__ import main   # after prepare_process(): NumPy must load with the pinned numerics
    cwd = os.getcwd()
    args = [str(REPO / a) if a.startswith("config/") else a for a in args]
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        Path("assets").mkdir()
        out = io.StringIO()
        try:   # stdout is the sample; progress and messages (stderr) are not
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                code = main(args)
        finally:
            os.chdir(cwd)
    if code != 0:
        raise SystemExit(f"the sample command failed with exit code {code}")
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    return "\n".join(lines) + "\n"


def rewrite(text: str, name: str, args: list[str]) -> str:
    begin, end = f"<!-- sample:{name}:begin -->", f"<!-- sample:{name}:end -->"
    command = " ".join(["python main.py", *args])
    block = f"{begin}\n```text\n$ {command}\n{sample_output(args)}```\n{end}"
    start, stop = text.index(begin), text.index(end) + len(end)
    return text[:start] + block + text[stop:]


def main_docs(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    updated = text
    for name, args in SAMPLES.items():
        updated = rewrite(updated, name, args)
    if "--check" in argv:
        if updated != text:
            print("README sample is stale: run `python -m trm_demo.report.docs`", file=sys.stderr)
            return 1
        return 0
    write_text(README, updated)
    return 0


if __name__ == "__main__":
    from trm_demo.process import prepare_process
    prepare_process()
    sys.exit(main_docs(sys.argv[1:]))
