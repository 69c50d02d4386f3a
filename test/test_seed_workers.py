"""`--seeds N` worker processes (funnel/evaluation.py): results in seed order, and no worker outlives the run.

A dead worker ends the evaluation with one line instead of hanging (a multiprocessing Pool waits forever),
and a stop (Ctrl-C, SIGTERM) ends every worker at once. The command-line tests start a run whose own
simulation is short and whose seed queue is long: the workers start within about a second and are still
busy when the test stops the run. Signals need real processes; each test is bounded by timeouts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from test_atomic_outputs import start_long_run
from test_stop_signals import STOPPED
from trm_demo.config import load_config
from trm_demo.errors import WorkerDied
from trm_demo.funnel.evaluation import MEASURES, evaluate_seeds
from trm_demo.strategies import KEYS as STRATEGIES

needs_proc = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child pids from Linux /proc")

# 20 opportunities take the parent a fraction of a second; 1,000 seeds keep two workers busy for minutes.
BUSY_WORKERS = ("--opportunities", "20", "--seeds", "1000")


def start_seeds_run(directory: Path) -> subprocess.Popen:
    return start_long_run(directory, *BUSY_WORKERS)


def wait_for_workers(process: subprocess.Popen, count: int = 2, timeout: float = 60) -> set[int]:
    """The pids of the run's --seeds workers, once at least `count` have started."""
    workers: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(workers) < count and time.monotonic() < deadline and process.poll() is None:
        workers = children(process.pid)
        time.sleep(0.05)
    assert len(workers) >= count, f"the workers never started: {process.poll()}"
    return workers


def children(pid: int) -> set[int]:
    """Child pids, whichever of the process's threads started them."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(child) for child in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def new_workers_running(before: set[int]) -> list[int]:
    """This process's running children that were not there `before` (the session's helper processes were:
    test/served.py)."""
    return [pid for pid in children(os.getpid()) - before if running(pid)]


def running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has exited; only its parent's bookkeeping is left)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --- in-process: the evaluation with a stand-in pipeline ---

def seed_result(cfg) -> dict:
    """A stand-in for one seed's pipeline, in a worker process: figures that depend only on the seed."""
    seed = cfg.simulation.seed
    if seed == 666:
        os.kill(os.getpid(), signal.SIGKILL)
    if seed == 667:
        os.kill(os.getpid(), signal.SIGTERM)
    if seed == 668:
        time.sleep(60)
    return {"strategies": {s: {m: float(seed * (i + 1) + j) for j, m in enumerate(MEASURES)}
                           for i, s in enumerate(STRATEGIES)},
            "counterfactuals": {name: {"expected_net_value_delta": float(seed)} for name in ("thermostat", "sentinel")}}


def test_seeds_in_worker_processes_match_the_serial_run():
    cfg = load_config()
    serial = evaluate_seeds(cfg, [5, 3, 9], seed_result, workers=1)
    assert evaluate_seeds(cfg, [5, 3, 9], seed_result, workers=2) == serial
    assert serial["per_seed_expected_net_value"]["trm"][0] == float(5 * (STRATEGIES.index("trm") + 1))


@needs_proc
@pytest.mark.parametrize("seed, signal_name", [(666, "SIGKILL"), (667, "SIGTERM")])
def test_a_dead_worker_ends_the_evaluation_instead_of_hanging(seed, signal_name):
    """evaluation: a ProcessPoolExecutor breaks when a worker dies (a Pool would wait forever)."""
    started, before = time.monotonic(), children(os.getpid())
    with pytest.raises(WorkerDied, match=f"was killed by {signal_name}") as died:
        evaluate_seeds(load_config(), [seed, 668, 1], seed_result, workers=2)
    assert time.monotonic() - started < 30
    assert "0 of 3 seeds were done" in str(died.value)
    assert not new_workers_running(before), "a worker outlived the evaluation"


@needs_proc
def test_ctrl_c_during_the_evaluation_ends_every_worker_at_once():
    """_end_workers terminates running workers (the executor's own shutdown would wait for them)."""
    def interrupt(done):
        raise KeyboardInterrupt
    started, before = time.monotonic(), children(os.getpid())
    with pytest.raises(KeyboardInterrupt):
        evaluate_seeds(load_config(), [1, 668, 668], seed_result, workers=2, on_done=interrupt)
    assert time.monotonic() - started < 30
    assert not new_workers_running(before), "a worker outlived the evaluation"


@needs_proc
def test_a_stop_while_the_seeds_are_submitted_waits_until_all_are(monkeypatch):
    """A Ctrl-C inside ProcessPoolExecutor.submit can leave its work queue's lock held, and the shutdown that ends
    the workers then waits forever (a SIGTERM'd --seeds run hung so, 2 in 20 under load): the stop is held until
    every seed is submitted, then ends the evaluation as before. The signal lands at the second submit, every time."""
    from concurrent.futures import ProcessPoolExecutor
    submitted, submit = [], ProcessPoolExecutor.submit

    def interrupted_submit(executor, *args):
        submitted.append(args)
        if len(submitted) == 2:
            os.kill(os.getpid(), signal.SIGINT)   # Python raises it at its next instruction: here, unless held
        return submit(executor, *args)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", interrupted_submit)
    before = children(os.getpid())
    with pytest.raises(KeyboardInterrupt):
        evaluate_seeds(load_config(), [668, 668, 1, 2], seed_result, workers=2)
    assert len(submitted) == 4, "the stop was raised inside the submissions"
    assert not new_workers_running(before), "a worker outlived the evaluation"


# --- the command line: a real --seeds run ---

@needs_proc
def test_sigterm_to_a_seeds_run_leaves_no_worker_running(tmp_path):
    process = start_seeds_run(tmp_path)
    workers: set[int] = set()
    try:
        workers = wait_for_workers(process)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)   # were the stop ignored, 1,000 seeds would outlast this
    finally:
        process.kill()
    assert process.returncode == 143 and err.splitlines() == [f"terminated: {STOPPED}"]
    assert not [pid for pid in workers if running(pid)], "a worker outlived the run"
    assert [p.name for p in tmp_path.iterdir()] == ["long.yaml"], "an output or a temp was left behind"


@needs_proc
def test_killing_a_seeds_worker_ends_the_run_with_one_line(tmp_path):
    """kill -9 of one --seeds worker: the parent ends at once with one line (a Pool waited forever).
    kill -TERM takes the same path: test_a_dead_worker_ends_the_evaluation_instead_of_hanging."""
    kill = signal.SIGKILL
    process = start_seeds_run(tmp_path)
    workers: set[int] = set()
    try:
        workers = wait_for_workers(process)
        time.sleep(0.5)   # the workers are deciding seeds, not still starting
        os.kill(min(workers), kill)
        _, err = process.communicate(timeout=60)   # a hang fails here
    finally:
        process.kill()
    assert process.returncode == 1, err
    assert len(err.splitlines()) == 1 and err.startswith("error: --seeds: a worker process died"), err
    assert f"pid {min(workers)} was killed by {kill.name}" in err and "internal error" not in err
    assert "of 1000 seeds were done and no output was written" in err
    assert not [pid for pid in workers if running(pid)], "a worker outlived the run"
    assert [p.name for p in tmp_path.iterdir()] == ["long.yaml"], "an output or a temp was left behind"
