"""Output safety and signals (issue 11): one test per class of attack, each against the mechanism.

- data destroyed: outputs.check_paths, one check for both commands, before any work;
- temp files: atomic.atomic_file (mkstemp) and remove_stale_temps, streamed telemetry included;
- all outputs or none: check_paths up front, atomic.staged renames them together;
- signals: stop.py (SIGTERM like Ctrl-C, start-up, --seeds workers, a closed pipe);
- locale: stop.install's ASCII fallback;
- money: the labelled compute line and the sentinel's exact budget.

Signals and pipes need a real process; each such test is bounded by timeouts.
"""

from __future__ import annotations

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
from test_sentinel import sentinel
from trm_demo import atomic
from trm_demo.atomic import staged, write_json
from trm_demo.outputs import OutputPathError, check_paths
from trm_demo.subgraph import call_log

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
    run = run_cli(capsys, ["puzzle", "eval", "--checkpoint", checkpoint, "--json", checkpoint])
    assert run.code == 2 and "--json" in run.err and "the input --checkpoint" in run.err
    assert checkpoint.read_bytes() == b"weights"


def test_two_puzzle_eval_outputs_on_one_file_are_refused(tmp_path, capsys):
    same = tmp_path / "eval.json"
    run = run_cli(capsys, ["puzzle", "eval", "--json", same, "--report", same])
    assert run.code == 2 and run.err_lines == [f"error: --report '{same}' is also the --json path; "
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
    check_paths({"--export-json": target}, {})   # the next run's check, before any work
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

def test_sigterm_is_handled_like_ctrl_c_exit_143(tmp_path):
    saved = write_previous_outputs(tmp_path)
    process = start_long_run(tmp_path)
    try:
        wait_until_streaming(process, tmp_path)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143
    assert err.splitlines() == [f"terminated: {STOPPED}"] and out == ""
    assert_previous_outputs_intact(tmp_path, saved)
    assert not list(tmp_path.glob(".*.tmp")), "SIGTERM left a temp file behind"


def children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(child) for child in text.split()}


def running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has exited; only its parent's bookkeeping is left)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child pids from Linux /proc")
def test_sigterm_to_a_seeds_run_leaves_no_worker_running(tmp_path):
    process = start_long_run(tmp_path, "--opportunities", "60000", "--seeds", "2")
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
            workers = children(process.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, f"the workers never started: {process.poll()}"
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
    (tmp_path / "sitecustomize.py").write_text(SLOW_IMPORT.replace("{signal}", name))
    env = {**subprocess_env(), "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO_ROOT}"}
    process = python_main("--help", cwd=tmp_path, env=env, stdout=subprocess.PIPE)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, err.splitlines(), out) == (code, [f"{word}: {STOPPED}"], "")


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
            ("puzzle", "eval", "--puzzles", "10", "--steps", "2", "--json", "e.json", "--report", "e.md")]
    outs = []
    for args in runs:
        process = python_main(*args, cwd=tmp_path, env=env, stdout=subprocess.PIPE)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.isascii() and err.isascii()
        outs.append(out)
    assert "mean +/- 95% CI" in outs[0]   # '±' spelled in ASCII, not '?'

