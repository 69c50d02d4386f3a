"""Ctrl-C and SIGTERM (stop.py) at the earliest moments a user can send them: one line, the shell's exit code.

__main__.launch installs the handlers first and runs everything else inside one try, so a stop while Python
imports NumPy, or inside prepare_process, is the same line as a stop mid-run (test_atomic_outputs.py
stops a run mid-simulation; test_seed_workers.py a --seeds run). Signals need a real process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_atomic_outputs import as_from_a_terminal
from test_cli import REPO_ROOT, subprocess_env

STOPPED = "stopped before finishing; every output file is either its previous version or complete"
STOPS = pytest.mark.parametrize("name, code, word", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])


def python_main(*args: str, cwd: Path, env: dict | None = None, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "main.py"), *args], cwd=cwd,
                            env=env or subprocess_env(), stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_from_a_terminal, **popen)


def stopped_by(script: str, name: str, directory: Path) -> tuple[int, list[str], str]:
    """(exit code, stderr lines, stdout) of `--help` with a sitecustomize `script` that sends signal `name`."""
    (directory / "sitecustomize.py").write_text(script.replace("{signal}", name))
    env = {**subprocess_env(), "PYTHONPATH": f"{directory}{os.pathsep}{REPO_ROOT}"}
    process = python_main("--help", cwd=directory, env=env, stdout=subprocess.PIPE)
    out, err = process.communicate(timeout=60)
    return process.returncode, err.splitlines(), out


SLOW_IMPORT = """
import os, signal, sys
class StopOnYaml:   # the signal arrives while the program imports PyYAML (`--help` needs it, not NumPy): start-up
    def find_spec(self, name, path=None, target=None):
        if name == "yaml":
            os.kill(os.getpid(), signal.{signal})
sys.meta_path.insert(0, StopOnYaml())
"""

STOP_IN_PREPARE = """
import os, signal
def setdefault(self, key, value=None, _original=os._Environ.setdefault):
    if key == "OPENBLAS_NUM_THREADS":   # the first thing prepare_process() does
        os.kill(os.getpid(), signal.{signal})
    return _original(self, key, value)
os._Environ.setdefault = setdefault
"""


@STOPS
def test_a_stop_during_start_up_gives_one_line_not_a_traceback(tmp_path, name, code, word):
    assert stopped_by(SLOW_IMPORT, name, tmp_path) == (code, [f"{word}: {STOPPED}"], "")


@STOPS
def test_a_stop_inside_prepare_process_gives_one_line(tmp_path, name, code, word):
    """__main__.launch: stop.install() then everything else inside the one try."""
    assert stopped_by(STOP_IN_PREPARE, name, tmp_path) == (code, [f"{word}: {STOPPED}"], "")
