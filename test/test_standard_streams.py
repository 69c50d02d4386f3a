"""Standard streams a program meets outside a terminal (stop.install): a closed pipe, a full or closed stdout,
an ASCII-only locale. Each ends quietly or with one line naming stdout, never with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_atomic_outputs import as_from_a_terminal
from test_cli import REPO_ROOT, subprocess_env, tiny_args
from test_stop_signals import python_main

A_PUZZLE = "1" + "0" * 35


def test_a_closed_stdout_ends_puzzle_solve_quietly_with_141(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)   # like `| head -1` after its line: every write now fails with EPIPE
    try:
        process = python_main("puzzle", "solve", A_PUZZLE, cwd=tmp_path, stdout=write_end)
    finally:
        os.close(write_end)
    _, err = process.communicate(timeout=60)
    # quietly: nothing but the provenance line printed before the reader left
    assert process.returncode == 141
    assert [line for line in err.splitlines() if not line.startswith("loaded checkpoint ")] == []


@pytest.mark.parametrize("redirect, reason", [("full", "No space left on device"), ("closed", "it is closed")])
def test_a_stdout_that_cannot_be_written_is_one_line(tmp_path, redirect, reason):
    """stop.install names stdout in its write errors; launch (stop.flush_stdout) flushes it where a failure is still
    one line."""
    if redirect == "full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full" if redirect == "full" else os.devnull, "w") as sink:
        extra = {"stdout": sink} if redirect == "full" else {"stdout": subprocess.DEVNULL,
                                                              "preexec_fn": lambda: (as_from_a_terminal(), os.close(1))}
        process = subprocess.Popen([sys.executable, str(REPO_ROOT / "main.py"), "config"], cwd=tmp_path,
                                   env=subprocess_env(), stderr=subprocess.PIPE, text=True,
                                   **{"preexec_fn": as_from_a_terminal, **extra})
        _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.splitlines() == [f"error: cannot write to standard output: {reason}"
                                + (" (the command was started with >&-)" if redirect == "closed" else "")]


def test_an_ascii_only_locale_gets_ascii_text_not_a_crash(tmp_path):
    """stop.install's ASCII fallback, for both commands."""
    env = {**subprocess_env(), "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": "ascii", "PYTHONUTF8": "0"}
    runs = [("--config", str(tiny_args(tmp_path)[1]), "--opportunities", "20", "--train-epochs", "0",
             "--seeds", "2", "--export-json", "m.json", "--export-training-log", "t.json",
             "--export-report", "r.md", "--telemetry", "c.json"),
            ("puzzle", "eval", "--puzzles", "10", "--steps", "2", "--export-json", "e.json", "--report", "e.md")]
    outs = []
    for args in runs:
        process = python_main(*args, cwd=tmp_path, env=env, stdout=subprocess.PIPE)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.isascii() and err.isascii()
        outs.append(out)
    assert "mean +/- 95% CI" in outs[0]   # '±' spelled in ASCII, not '?'
