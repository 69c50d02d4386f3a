"""The times the README states, measured as a user meets them: each command in a fresh process (with Python's
default byte-code, measure.AS_A_USER), wall time and the CPU time of the process and its children
(resource.RUSAGE_CHILDREN), on this machine (named on the page).

Rows: the default run (`python main.py`, outputs in a temporary directory), `python main.py puzzle eval`, the
start-up of `python main.py --help`, and the test suite (`python -m pytest -q`, the README's test command without
its venv/pip/npm set-up, whose time is the network's).
"""

from __future__ import annotations

import resource
import tempfile
import time

from bench.measure import AS_A_USER, REPO_ROOT, run_python

OUTPUTS = ("--export-json", "--export-training-log", "--export-report", "--export-html", "--telemetry")


def timed(args: list[str], cwd, timeout: float) -> dict:
    """Wall and CPU (user + sys) seconds of one fresh `python ARGS`; a failure raises with its stderr's end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = run_python(args, AS_A_USER, cwd=cwd, timeout=timeout)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return {"wall_seconds": wall, "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "last_line": (done.stdout.strip().splitlines() or [""])[-1][:200]}


def run(tests: bool = True) -> dict:
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows["python main.py (default run)"] = timed(
            [str(REPO_ROOT / "main.py"), *(f"{flag}={tmp}/{flag[2:]}.out" for flag in OUTPUTS)], tmp, 900)
        rows["python main.py puzzle eval"] = timed([str(REPO_ROOT / "main.py"), "puzzle", "eval", "--export-json",
                                                    f"{tmp}/eval.json", "--report", f"{tmp}/eval.md"], tmp, 900)
        rows["python main.py --help"] = timed([str(REPO_ROOT / "main.py"), "--help"], tmp, 120)
    if tests:
        rows["python -m pytest -q (the test suite)"] = timed(["-m", "pytest", "-q", "-p", "no:cacheprovider"],
                                                             REPO_ROOT, 3600)
    return {"rows": rows}
