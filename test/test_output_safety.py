"""Output safety and signals (issue 11): one test per class of attack, each against the mechanism.

- data destroyed: outputs.check_paths, one check for both commands, before any work;
- temp files: atomic.atomic_file (mkstemp) and remove_stale_temps, streamed telemetry included;
- all outputs or none: check_paths up front, atomic.staged renames them together;
- signals: stop.py (SIGTERM like Ctrl-C, start-up, --seeds workers, a closed pipe);
- locale: stop.install's ASCII fallback;
- money: the labelled compute line and the sentinel's exact budget;
- hostile QA of issue 11 (section 6): outputs inside the package or config directory, a stop inside
  prepare_process, a dead --seeds worker, a refused run that changed the disk, BLAS threads and
  "reference", a target that became a directory, environment errors as one line, flags pretrain ignores.

Signals and pipes need a real process; each such test is bounded by timeouts.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_atomic_outputs import (as_from_a_terminal, assert_previous_outputs_intact, start_long_run,
                                 wait_until_streaming, write_previous_outputs)
from test_cli import REPO_ROOT, run_cli, subprocess_env, tiny_args
from trm_demo import atomic, cli, commands, outputs
from trm_demo.funnel import pipeline
from trm_demo.atomic import staged, write_json
from trm_demo.config import DEFAULT_CONFIG_PATH, load_config
from trm_demo.errors import OutputPathError, WorkerDied
from trm_demo.funnel.evaluation import MEASURES, evaluate_seeds
from trm_demo.outputs import check_paths
from trm_demo.strategies import KEYS as STRATEGIES
from trm_demo.funnel.telemetry import call_log
from trm_demo.trm.weights import SHIPPED_DIR

STOPPED = "stopped before finishing; every output file is either its previous version or complete"
A_PUZZLE = "1" + "0" * 35


def python_main(*args: str, cwd: Path, env: dict | None = None, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "main.py"), *args], cwd=cwd,
                            env=env or subprocess_env(), stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_from_a_terminal, **popen)


# --- 1. data destroyed: outputs checked against inputs, each other and non-regular files ---

def test_an_output_that_is_an_input_or_its_hard_link_is_refused_before_any_work(tmp_path, capsys):
    args = tiny_args(tmp_path)
    config = Path(args[1])
    os.link(config, tmp_path / "alias.yaml")
    before = config.read_bytes()
    for flag, path in (("--export-report", config), ("--export-json", tmp_path / "alias.yaml"),
                       ("--telemetry", tmp_path / "." / "tiny.yaml")):
        run = run_cli(capsys, [*args, flag, path])
        assert run.code == 2 and run.err_lines == [run.err_lines[0]]
        assert run.err.startswith(f"error: {flag} ") and "--config" in run.err
    assert config.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alias.yaml", "tiny.yaml"], "work started"


def test_a_checkpoint_given_as_input_is_never_an_output(tmp_path, capsys):
    checkpoint = tmp_path / "weights.npz"
    checkpoint.write_bytes(b"weights")
    run = run_cli(capsys, [*tiny_args(tmp_path), "--checkpoint", checkpoint, "--export-json", checkpoint])
    assert run.code == 2 and "--export-json" in run.err and "the input --checkpoint" in run.err
    run = run_cli(capsys, ["puzzle", "eval", "--checkpoint", checkpoint, "--export-json", checkpoint])
    assert run.code == 2 and "--export-json" in run.err and "the input --checkpoint" in run.err
    assert checkpoint.read_bytes() == b"weights"


def test_two_puzzle_eval_outputs_on_one_file_are_refused(tmp_path, capsys):
    same = tmp_path / "eval.json"
    run = run_cli(capsys, ["puzzle", "eval", "--export-json", same, "--report", same])
    assert run.code == 2 and run.err_lines == [f"error: --report '{same}' is also the --export-json path; "
                                               "give each output its own file"]


def test_an_existing_output_that_is_not_a_regular_file_is_refused(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        for path, kind in ((fifo, "a FIFO"), ("/dev/null", "a character device"), (tmp_path / "sock", "a socket"),
                           (tmp_path, "a directory")):
            run = run_cli(capsys, [*tiny_args(tmp_path), "--export-json", path])
            assert run.code == 2 and f"--export-json '{path}' is {kind}" in run.err
    finally:
        sock.close()
    assert Path("/dev/null").is_char_device()


# --- 2. temp files: safe names, never through a symlink, removed on every exit path, stale ones cleaned ---

def test_a_planted_symlink_at_any_old_temp_name_redirects_nothing(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    target = tmp_path / "trm_calls.json"
    for name in (f".{target.name}.{os.getpid()}.tmp", f".{target.name}.{os.getpid() + 1}.tmp"):
        (tmp_path / name).symlink_to(victim)
    with call_log(target) as calls:   # the streamed telemetry goes through the same mechanism
        calls._handle.write("[")
        calls._handle.write("]")
    write_json(tmp_path / "m.json", {"ok": True})
    assert victim.read_text() == "precious\n"
    assert target.read_text().startswith("[")
    assert not [p for p in tmp_path.glob(".*.tmp") if not p.is_symlink()], "a temp was left behind"


def test_stale_temps_of_dead_runs_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    target = tmp_path / "demo_metrics.json"
    stale = [tmp_path / f".demo_metrics.json.{dead}.tmp", tmp_path / f".demo_metrics.json.{dead}.k3x_9q2a.tmp"]
    live = tmp_path / f".demo_metrics.json.{os.getpid()}.abcdefgh.tmp"
    other = tmp_path / f".report.md.{dead}.abcdefgh.tmp"
    for path in (*stale, live, other):
        path.write_text("half")
    prepare = check_paths({"--export-json": target}, {})   # the next run's check: it only looks ...
    assert all(p.exists() for p in stale)
    prepare()   # ... and once every input is validated, cleans
    assert not any(p.exists() for p in stale)
    assert live.exists() and other.exists()


def test_a_full_disk_leaves_no_partial_temp(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    target.write_text("old\n")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        atomic.write_text(target, "x" * 100_000)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_full_disk_at_the_last_flush_leaves_no_partial_temp(tmp_path):
    """A real full filesystem: the error surfaces in close(), after the writer returned."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a tiny tmpfs needs root")
    try:
        with pytest.raises(OSError) as caught:
            atomic.write_text(disk / "report.md", "x" * 200_000)
        assert caught.value.errno == errno.ENOSPC
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# --- 3. all outputs or none ---

def test_one_failing_output_replaces_none_of_the_others(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.md"
    first.write_text("old a\n")
    second.write_text("old b\n")
    with pytest.raises(RuntimeError):
        with staged():
            write_json(first, {"new": True})
            atomic.atomic_write(second, lambda f: (f.write("half"), (_ for _ in ()).throw(RuntimeError("boom"))))
    assert (first.read_text(), second.read_text()) == ("old a\n", "old b\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.md"]


def test_a_name_too_long_or_an_unwritable_directory_is_refused_before_any_output_changes(tmp_path, capsys):
    saved = write_previous_outputs(tmp_path)
    for flag, path, says in (("--export-report", tmp_path / ("r" * 250 + ".md"), "file name too long"),
                             ("--export-report", "/proc/report.md", "not writable"),
                             ("--telemetry", tmp_path / "nowhere" / "calls.json", "does not exist")):
        run = run_cli(capsys, [*tiny_args(tmp_path), flag, path])
        assert run.code == 2 and run.err.startswith(f"error: {flag} ") and says in run.err
    assert_previous_outputs_intact(tmp_path, saved)
    with pytest.raises(OutputPathError, match="too long"):
        check_paths({"--json": tmp_path / ("j" * 300)}, {})


# --- 4. signals ---

def wait_for_workers(process, count: int = 2, timeout: float = 90) -> set[int]:
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


def running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has exited; only its parent's bookkeeping is left)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child pids from Linux /proc")
def test_sigterm_to_a_seeds_run_leaves_no_worker_running(tmp_path):
    process = start_long_run(tmp_path, "--opportunities", "20000", "--seeds", "2")
    workers: set[int] = set()
    try:
        workers = wait_for_workers(process)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143 and err.splitlines() == [f"terminated: {STOPPED}"]
    assert not [pid for pid in workers if running(pid)], "a worker outlived the run"


SLOW_IMPORT = """
import os, signal, sys
class StopOnNumpy:   # the signal arrives while the program imports NumPy: start-up
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            os.kill(os.getpid(), signal.{signal})
sys.meta_path.insert(0, StopOnNumpy())
"""


@pytest.mark.parametrize("name, code, word", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_stop_during_start_up_gives_one_line_not_a_traceback(tmp_path, name, code, word):
    assert stopped_by(SLOW_IMPORT, name, tmp_path) == (code, [f"{word}: {STOPPED}"], "")


def stopped_by(script: str, name: str, directory: Path) -> tuple[int, list[str], str]:
    """(exit code, stderr lines, stdout) of `--help` with a sitecustomize `script` that sends signal `name`."""
    (directory / "sitecustomize.py").write_text(script.replace("{signal}", name))
    env = {**subprocess_env(), "PYTHONPATH": f"{directory}{os.pathsep}{REPO_ROOT}"}
    process = python_main("--help", cwd=directory, env=env, stdout=subprocess.PIPE)
    out, err = process.communicate(timeout=60)
    return process.returncode, err.splitlines(), out


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


# --- 5. locale ---

def test_an_ascii_only_locale_gets_ascii_text_not_a_crash(tmp_path):
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



# --- 6. hostile QA of issue 11: each broken promise against its mechanism ---

PACKAGE = Path(cli.__file__).resolve().parent
SHIPPED_CHECKPOINT = SHIPPED_DIR / "pretrained_trm.npz"
EXAMPLE_CONFIG = next((DEFAULT_CONFIG_PATH.parent / "examples").glob("*.yaml"))


def fingerprints(*paths: Path) -> list[tuple[bytes, int]]:
    return [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]


@pytest.mark.parametrize("target", [SHIPPED_CHECKPOINT, DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG,
                                    PACKAGE / "new_output.json", PACKAGE / "checkpoints" / "new.npz"],
                         ids=["shipped checkpoint", "default config", "example config", "new file in package",
                              "new file beside the checkpoints"])
def test_no_output_may_land_in_trm_demos_own_files(target, tmp_path, monkeypatch, capsys):
    """outputs.check_paths, for both commands: the package directory and the config directory, resolved."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alias").symlink_to(target.parent)
    before = fingerprints(SHIPPED_CHECKPOINT, DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG)
    for argv, flag in (([*tiny_args(tmp_path), "--from-scratch", "--export-json", target], "--export-json"),
                       ([*tiny_args(tmp_path), "--from-scratch", "--telemetry", tmp_path / "alias" / target.name],
                        "--telemetry"),
                       (["puzzle", "eval", "--export-json", target], "--export-json"),
                       (["puzzle", "eval", "--export-json", "e.json", "--report", target], "--report")):
        run = run_cli(capsys, argv)
        assert run.code == 2 and len(run.err_lines) == 1, run.err
        assert run.err.startswith(f"error: {flag} '") and "trm-demo's own files" in run.err
        assert f"give {flag} a path outside it" in run.err
    assert fingerprints(SHIPPED_CHECKPOINT, DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG) == before
    assert not target.exists() or target in (SHIPPED_CHECKPOINT, DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG)


def test_a_hard_link_to_a_package_file_is_refused(tmp_path, monkeypatch):
    """A hard link has no path in common with the package: found by (device, inode)."""
    package = tmp_path / "package"
    package.mkdir()
    (package / "default_config.yaml").write_text("precious\n")
    os.link(package / "default_config.yaml", tmp_path / "innocent.json")
    monkeypatch.setattr(outputs, "package_directories", lambda: [package])
    with pytest.raises(OutputPathError, match="--export-json .*innocent.json.* trm-demo's own files"):
        check_paths({"--export-json": tmp_path / "innocent.json"}, {})
    check_paths({"--export-json": tmp_path / "other.json"}, {})   # an ordinary file is fine


def test_the_shipped_checkpoints_only_through_replace_shipped(tmp_path):
    """cli.checkpoint_output allows it with --replace-shipped; check_paths lets only that flag through."""
    check_paths({"--out": SHIPPED_CHECKPOINT}, {}, replace_shipped={"--out"})   # looks only: nothing written
    with pytest.raises(OutputPathError, match="own files"):
        check_paths({"--out": SHIPPED_CHECKPOINT}, {})
    with pytest.raises(OutputPathError, match="own files"):   # the exception is for the checkpoints only
        check_paths({"--out": DEFAULT_CONFIG_PATH}, {}, replace_shipped={"--out"})


STOP_IN_PREPARE = """
import os, signal
def setdefault(self, key, value=None, _original=os._Environ.setdefault):
    if key == "OPENBLAS_NUM_THREADS":   # the first thing prepare_process() does
        os.kill(os.getpid(), signal.{signal})
    return _original(self, key, value)
os._Environ.setdefault = setdefault
"""


@pytest.mark.parametrize("name, code, word", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_stop_inside_prepare_process_gives_one_line(tmp_path, name, code, word):
    """__main__.launch: stop.install() then everything else inside the one try."""
    assert stopped_by(STOP_IN_PREPARE, name, tmp_path) == (code, [f"{word}: {STOPPED}"], "")


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


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child pids from Linux /proc")
@pytest.mark.parametrize("seed, signal_name", [(666, "SIGKILL"), (667, "SIGTERM")])
def test_a_dead_worker_ends_the_evaluation_instead_of_hanging(seed, signal_name):
    """evaluation: a ProcessPoolExecutor breaks when a worker dies (a Pool would wait forever)."""
    started = time.monotonic()
    with pytest.raises(WorkerDied, match=f"was killed by {signal_name}") as died:
        evaluate_seeds(load_config(), [seed, 668, 1], seed_result, workers=2)
    assert time.monotonic() - started < 30
    assert "0 of 3 seeds were done" in str(died.value)
    assert not [pid for pid in children(os.getpid()) if running(pid)], "a worker outlived the evaluation"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child pids from Linux /proc")
def test_ctrl_c_during_the_evaluation_ends_every_worker_at_once(monkeypatch):
    """_end_workers terminates running workers (the executor's own shutdown would wait for them)."""
    def interrupt(done):
        raise KeyboardInterrupt
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        evaluate_seeds(load_config(), [1, 668, 668], seed_result, workers=2, on_done=interrupt)
    assert time.monotonic() - started < 30
    assert not [pid for pid in children(os.getpid()) if running(pid)], "a worker outlived the evaluation"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child pids from Linux /proc")
def test_killing_a_seeds_worker_ends_the_run_with_one_line(tmp_path):
    """kill -9 of one --seeds worker: the parent ends at once with one line (a Pool waited forever).
    kill -TERM takes the same path: test_a_dead_worker_ends_the_evaluation_instead_of_hanging."""
    kill = signal.SIGKILL
    process = start_long_run(tmp_path, "--opportunities", "20000", "--seeds", "3")
    workers: set[int] = set()
    try:
        workers = wait_for_workers(process)
        time.sleep(0.5)
        os.kill(min(workers), kill)
        _, err = process.communicate(timeout=60)   # a hang fails here
    finally:
        process.kill()
    assert process.returncode == 1, err
    assert len(err.splitlines()) == 1 and err.startswith("error: --seeds: a worker process died"), err
    assert f"pid {min(workers)} was killed by {kill.name}" in err and "internal error" not in err
    assert not [pid for pid in workers if running(pid)], "a worker outlived the run"
    assert not list(tmp_path.glob(".*.tmp")), "a temp was left behind"


def test_a_refused_run_changes_nothing_on_disk(tmp_path, monkeypatch, capsys):
    """check_paths only looks; directories and stale-temp cleaning wait until every input is validated."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f".demo_metrics.json.{dead}.abcdefgh.tmp"
    stale.write_text("half")
    run = run_cli(capsys, ["--config", tiny_args(tmp_path)[1], "--checkpoint", "bad.npz"])   # default outputs
    assert run.code == 2 and run.err.startswith("error: checkpoint '") and "bad.npz' is corrupt" in run.err
    run = run_cli(capsys, ["puzzle", "eval", "--checkpoint", "bad.npz"])
    assert run.code == 2 and run.err.startswith("error: checkpoint '") and "bad.npz' is corrupt" in run.err
    run = run_cli(capsys, ["puzzle", "eval", "--puzzles", "501"])   # a flag checked against the checkpoint
    assert run.code == 2 and run.err_lines == [run.err_lines[0]] and "held out only 500" in run.err
    assert "loaded checkpoint" not in run.err
    assert not (tmp_path / "assets").exists(), "a refused run created the default directory"
    assert stale.exists(), "a refused run cleaned temps"


def test_reference_needs_one_blas_thread():
    """process.numerics records the BLAS thread count; 2 threads round otherwise, so they are not reference."""
    probe = "from trm_demo.process import prepare_process, numerics; prepare_process(); print(numerics())"
    seen = {}
    for threads in ("1", "2"):
        env = {**subprocess_env(), "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
        done = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=60, check=True)
        seen[threads] = eval(done.stdout)   # a dict literal of str, list, bool
    assert seen["1"]["blas_threads"] == [1] and seen["2"]["blas_threads"] == [2]
    assert seen["2"]["reference"] is False   # whatever the kernel: the same kernel with 1 thread may be reference


def test_a_target_that_became_a_directory_replaces_no_output(tmp_path, capsys):
    """atomic.staged checks every target before the first rename."""
    first, report = tmp_path / "a.json", tmp_path / "report.md"
    first.write_text("old a\n")

    def body():
        with staged():
            write_json(first, {"new": True})
            atomic.write_text(report, "new report\n")
            report.mkdir()   # `mkdir assets/trm_executive_report.md` while the run works
        return 0
    assert commands.guarded(body, argparse.Namespace(debug=False)) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: '{report}': became a directory during the run; no output was replaced"]
    assert first.read_text() == "old a\n" and report.is_dir()
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_full_disk_is_one_line_naming_the_file_not_an_internal_error(tmp_path, monkeypatch, capsys):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(atomic.os, "fsync", full)
    target = tmp_path / "m.json"
    assert commands.guarded(lambda: write_json(target, {"x": 1}), argparse.Namespace(debug=False)) == 1
    assert capsys.readouterr().err.splitlines() == [f"error: '{target}': No space left on device"]


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


@pytest.mark.parametrize("path", ["newdir/", "newdir/.", ".", ".."])
def test_an_output_path_naming_a_directory_is_refused(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv, flag in (([*tiny_args(tmp_path), "--export-report", path], "--export-report"),
                       (["puzzle", "eval", "--export-json", path], "--export-json"),
                       (["puzzle", "eval", f"--report={path}"], "--report")):
        run = run_cli(capsys, argv)
        assert run.code == 2 and run.err_lines == [f"error: {flag} '{path}' names a directory, not a file; "
                                                   "add a file name to the path"], run.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]


def test_output_paths_in_error_lines_are_clipped(tmp_path, capsys):
    long = tmp_path / ("d" * 400) / "x.json"
    run = run_cli(capsys, [*tiny_args(tmp_path), "--export-json", long])
    assert run.code == 2 and len(run.err_lines) == 1 and "..." in run.err and len(run.err) < 300, run.err


@pytest.mark.parametrize("extra, flag", [(["--save-checkpoint", "x.npz"], "--save-checkpoint"),
                                         (["--seeds", "2"], "--seeds"), (["--export-json", "m.json"], "--export-json"),
                                         (["--train-epochs", "3"], "--train-epochs"),
                                         (["--from-scratch"], "--from-scratch")])
def test_pretrain_refuses_flags_it_would_ignore(extra, flag, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline, "fit", lambda *a, **k: pytest.fail("trained with a flag it ignores"))
    run = run_cli(capsys, ["pretrain", *extra])
    assert run.code == 2 and run.err_lines == [run.err_lines[0]]
    assert run.err.startswith(f"error: {flag} does not apply to `pretrain`")
    assert list(tmp_path.iterdir()) == []
    run = run_cli(capsys, [*tiny_args(tmp_path), "--replace-shipped"])
    assert run.code == 2 and "--replace-shipped applies only with --save-checkpoint" in run.err
